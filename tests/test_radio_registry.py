"""The radio registry is built from the backend modules of ``ota/radios/``: a radio is one new module.

A backend module dropped into the package (here: into a folder added to the package's path) is found
by :func:`ota.radios.backends`, opened by kind, addressed through ``--radio KIND:ADDRESS`` and given
its own command-line options, with no other file edited.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import ota.radios
from ota.options import add_radio_options, open_configured_radio, radio_config
from ota.radios import RadioConfig, RadioSettingError, backends, open_radio, parse_radio_spec
from phy.numerology import Numerology

ECHO_MODULE = "echo_test_radio"
ECHO_BACKEND = '''
"""A backend that exists only in a test: what is transmitted is received, scaled by --echo-gain dB."""

import numpy as np

from ota.radios.radio import Radio


class EchoRadio(Radio):
    kind = "echo"
    address_field = "device_args"
    address_name = "NAME"
    address_example = "room"

    @classmethod
    def add_options(cls, parser):
        parser.add_argument("--echo-gain", type=float, default=None, help="echo radio: gain of the echo in dB")

    @classmethod
    def apply_options(cls, config, args, *, record):
        return config if args.echo_gain is None else config.replace(tx_gain_db=args.echo_gain)

    @classmethod
    def open_for_link(cls, config, *, numerology, metadata):
        return cls(config, metadata=metadata)

    def __init__(self, config, *, metadata=None):
        super().__init__(config, f"echo {config.device_args}")
        self.metadata = metadata
        self._air = np.zeros(0, np.complex64)

    def _apply(self, config):
        pass

    def _transmit(self, burst, cyclic):
        self._air = np.concatenate([self._air, burst * 10 ** ((self.config.tx_gain_db or 0.0) / 20)])

    def _stop(self):
        pass

    def _receive(self, n):
        out, self._air = self._air[:n], self._air[n:]
        return np.concatenate([out, np.zeros(n - out.size, np.complex64)])

    def _settings(self):
        return {"metadata": self.metadata}

    def _close(self):
        pass
'''


@pytest.fixture
def echo_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``ota.radios`` with one more module, ``echo_test_radio``, as if its file were added to the package."""
    (tmp_path / f"{ECHO_MODULE}.py").write_text(ECHO_BACKEND)
    monkeypatch.setattr(ota.radios, "__path__", [*ota.radios.__path__, str(tmp_path)])
    backends.cache_clear()
    yield
    sys.modules.pop(f"ota.radios.{ECHO_MODULE}", None)
    vars(ota.radios).pop(ECHO_MODULE, None)
    backends.cache_clear()


def test_the_registry_holds_the_backend_of_each_module() -> None:
    found = backends()
    assert sorted(found) == ["capture", "emulator", "pluto", "soapy"]
    assert {kind: cls.__module__ for kind, cls in found.items()} == {kind: f"ota.radios.{kind}" for kind in found}


def test_a_new_backend_module_is_registered_opened_and_addressed(echo_backend: None) -> None:
    assert backends()["echo"].__module__ == f"ota.radios.{ECHO_MODULE}"
    kind, config = parse_radio_spec("echo:lab bench")
    assert (kind, config.device_args) == ("echo", "lab bench")
    burst = np.full(8, 0.5 + 0.25j, np.complex64)
    with open_radio(kind, config) as radio:
        radio.transmit(burst)
        np.testing.assert_array_equal(radio.receive(8), burst)
        assert radio.describe()["kind"] == "echo"
    with pytest.raises(RadioSettingError, match=r"unknown kind 'mirror'.*'echo'.*echo:room"):
        parse_radio_spec("mirror")


def test_a_new_backend_module_brings_its_command_line(echo_backend: None) -> None:
    parser = argparse.ArgumentParser()
    add_radio_options(parser)
    assert "echo[:NAME] (e.g. echo:room)" in " ".join(parser.format_help().split())
    args = parser.parse_args(["--radio", "echo:room", "--echo-gain", "-6", "--freq", "2.4e9"])
    kind, config = radio_config(args, record=False, sample_rate=1e6)
    assert (kind, config.device_args, config.tx_gain_db, config.center_freq) == ("echo", "room", -6.0, 2.4e9)
    burst = np.full(4, 0.5, np.complex64)
    with open_configured_radio(args, Numerology(sample_rate=1e6), metadata={"sent": "kodim23"}) as radio:
        radio.transmit(burst)
        np.testing.assert_allclose(radio.receive(4), burst * 10 ** (-6 / 20), rtol=1e-6)
        assert radio.describe()["settings"] == {"metadata": {"sent": "kodim23"}}


def test_backends_are_looked_up_only_when_asked() -> None:
    """Importing the package imports no backend (``ota --help`` imports ``ota.radios`` for its error type)."""
    probe = "import json, sys, ota.radios; print(json.dumps(sorted(m for m in sys.modules if m.startswith('ota.'))))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == ["ota.radios", "ota.radios.config", "ota.radios.errors", "ota.radios.radio"]


def test_a_kind_declared_twice_is_refused(echo_backend: None, tmp_path: Path) -> None:
    (tmp_path / "echo_test_twin.py").write_text(ECHO_BACKEND)
    try:
        with pytest.raises(TypeError, match="radio kind 'echo' is declared twice"):
            backends()
    finally:
        sys.modules.pop("ota.radios.echo_test_twin", None)
        vars(ota.radios).pop("echo_test_twin", None)


def test_open_radio_uses_the_registry() -> None:
    with pytest.raises(RadioSettingError, match="unknown radio kind 'echo'"):
        open_radio("echo", RadioConfig())
