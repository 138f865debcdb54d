"""Radios: one interface (:class:`Radio`) for every backend, and the registry of the backends by kind.

A backend is a module of this package that defines a :class:`Radio` subclass declaring a ``kind``
(``pluto``, ``soapy``, ``capture``, ``emulator``): :func:`backends` finds it there, so adding a radio
is adding one module (see ``docs/architecture.md``). The modules are imported on the first look-up,
not with this package, and the device libraries (pyadi-iio, SoapySDR) only when such a radio opens.

Radios are opened by kind with :func:`open_radio`, or from a one-string spec with
:func:`parse_radio_spec` (``pluto:ip:192.168.2.1``, ``soapy:driver=uhd,serial=...``,
``capture:captures/x.sigmf-meta``, ``emulator:tdl-a``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import Any

from ota.radios.config import RadioConfig
from ota.radios.errors import RadioError, RadioSettingError, RadioTimeout
from ota.radios.radio import Radio

__all__ = [
    "Radio", "RadioConfig", "RadioError", "RadioSettingError", "RadioTimeout",
    "backends", "backend", "open_radio", "parse_radio_spec",
]


@functools.cache
def backends() -> dict[str, type[Radio]]:
    """Every backend by kind, in kind order: the :class:`Radio` subclasses that declare a ``kind`` in the
    modules of this package."""
    found: dict[str, type[Radio]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        for cls in _declared_backends(importlib.import_module(f"{__name__}.{module_info.name}")):
            if cls.kind in found:
                raise TypeError(f"radio kind {cls.kind!r} is declared twice: by {found[cls.kind]} and by {cls}")
            found[cls.kind] = cls
    return dict(sorted(found.items()))


def _declared_backends(module: ModuleType) -> list[type[Radio]]:
    """The classes defined in ``module`` that are :class:`Radio` subclasses and declare a ``kind`` themselves."""
    return [cls for cls in vars(module).values()
            if inspect.isclass(cls) and issubclass(cls, Radio) and cls.__module__ == module.__name__
            and "kind" in vars(cls)]


def backend(kind: str) -> type[Radio]:
    """The backend class of ``kind``, or a :class:`RadioSettingError` listing the kinds there are."""
    if kind not in backends():
        raise RadioSettingError(f"unknown radio kind {kind!r}; expected one of {sorted(backends())}")
    return backends()[kind]


def open_radio(kind: str, config: RadioConfig | None = None, **options: Any) -> Radio:
    """Open a radio backend by kind (``pluto``, ``soapy``, ``capture``, ``emulator``).

    ``options`` are the backend's keyword arguments (e.g. ``loop=True`` for ``capture``).
    """
    return backend(kind)(config or RadioConfig(), **options)


def parse_radio_spec(spec: str, config: RadioConfig | None = None) -> tuple[str, RadioConfig]:
    """``"kind:address"`` -> ``(kind, config with the address set)``.

    Each backend says which field its address sets: ``pluto:ip:192.168.2.1`` sets ``uri``,
    ``soapy:driver=uhd`` ``device_args``, ``capture:path`` ``capture_path``, ``emulator:tdl-a``
    ``profile``. A bare kind keeps ``config``'s address.
    """
    config = config or RadioConfig()
    kind, _, address = spec.partition(":")
    if kind not in backends():
        examples = ", ".join(f"{k}:{cls.address_example}" for k, cls in backends().items())
        raise RadioSettingError(
            f"radio {spec!r}: unknown kind {kind!r}; expected one of {sorted(backends())} as in {examples}"
        )
    return kind, (backends()[kind].with_address(config, address) if address else config)
