"""The tiny training configuration the tests train in seconds, as TOML text."""

from __future__ import annotations

import json


def tiny_toml(pretrain: int = 2, discriminator: int = 1, adversarial: int = 2, **sections: dict) -> str:
    """A 16-wide model on 32-px crops in batches of 2, on the CPU with one thread, with these stage steps;
    ``sections`` add or override keys, e.g. ``loss={"beta_p": 0.0}``, ``run={"name": "ddp"}``."""
    tables = {
        "model": {"width": 16, "n_res_blocks": 1, "disc_width": 8},
        "data": {"crop": 32, "batch_size": 2, "workers": 0},
        "stages": {"pretrain": pretrain, "discriminator": discriminator, "adversarial": adversarial},
        "run": {"name": "tiny", "threads": 1, "device": "cpu"},
    }
    for name, values in sections.items():
        tables[name] = {**tables.get(name, {}), **values}
    return "\n".join(f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
                     for name, values in tables.items())
