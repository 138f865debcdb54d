"""The radio fakes (tests/fakes) against the real libraries: every name they provide exists there, alike.

The fakes stand in for pyadi-iio's ``adi.Pluto`` and Debian's ``SoapySDR`` module in every radio test;
a fake that drifted from its library (a renamed attribute, a constant with another value) would let a
backend pass here and fail on a radio. These tests import the real libraries and compare names, kinds
and constant values only: no device is opened, nothing is enumerated or scanned, no network is touched.
The libraries come from ``./install.sh --radios`` (pyadi-iio, pylibiio 0.25) and Debian
(``libiio0``, ``python3-soapysdr``); where one is missing the test skips, and under CI
(``JSCC_REQUIRE_ASSETS=1``) fails.
"""

from __future__ import annotations

import importlib
import inspect
import os
import types

import pytest
from fakes import fake_soapy
from fakes.fake_adi import FakeAdiModule, FakeIioContext, FakePluto


def _real(module: str) -> types.ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # OSError of a missing libiio is wrapped by the importers as ImportError
        message = f"the real {module} module is not installed ({exc}); ./install.sh --radios and Debian's packages"
        if os.environ.get("JSCC_REQUIRE_ASSETS") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _kind(owner: type, name: str) -> str:
    """``property``, ``method`` or ``value``: how ``owner`` (a class) provides ``name``."""
    static = inspect.getattr_static(owner, name)
    if isinstance(static, property):
        return "property"
    if callable(static) or isinstance(static, staticmethod | classmethod):
        return "method"
    return "value"


def _public(cls: type, keep: tuple[str, ...] = ()) -> list[str]:
    """The names a fake class defines itself for its users (its own helpers start with ``_``)."""
    return sorted(name for name in vars(cls) if not name.startswith("_") or name in keep)


def test_fake_pluto_has_only_what_adi_pluto_has():
    adi = _real("adi")
    names = _public(FakePluto, keep=("_device_name",))
    assert {"rx", "tx", "sample_rate", "rx_lo", "tx_cyclic_buffer", "ctx"} <= set(names)
    mismatched = {name: (_kind(FakePluto, name), _kind(adi.Pluto, name) if hasattr(adi.Pluto, name) else "missing")
                  for name in names}
    assert {name: kinds for name, kinds in mismatched.items() if kinds[0] != kinds[1]} == {}
    assert FakePluto._device_name == adi.Pluto._device_name
    # adi.Pluto(uri) hands its arguments down to context_manager(uri="", ...), as the fake takes them
    opened_with = list(inspect.signature(adi.context_manager.context_manager.__init__).parameters)[1:2]
    assert opened_with == list(inspect.signature(FakeAdiModule.Pluto).parameters)[1:2] == ["uri"]


def test_fake_iio_context_has_only_what_libiio_has():
    iio = _real("iio")
    names = _public(FakeIioContext)
    assert names == ["set_timeout"]
    assert all(callable(getattr(iio.Context, name, None)) for name in names)


def test_fake_soapysdr_constants_functions_and_classes_match_the_module():
    soapy = _real("SoapySDR")
    constants = {name: value for name, value in vars(fake_soapy).items() if name.startswith("SOAPY_SDR_")}
    assert len(constants) == 16
    assert {name: getattr(soapy, name, "missing") for name in constants} == constants
    assert fake_soapy.errToStr(soapy.SOAPY_SDR_UNDERFLOW) == soapy.errToStr(soapy.SOAPY_SDR_UNDERFLOW)
    for code in range(-7, 0):
        assert fake_soapy.errToStr(code) == soapy.errToStr(code)
    assert all(callable(getattr(soapy.Range, name, None)) for name in _public(fake_soapy.Range))
    result = fake_soapy.StreamResult()
    assert {name for name in vars(result)} <= {name for name in dir(soapy.StreamResult)}


def test_fake_soapysdr_device_has_only_what_soapysdr_device_has():
    soapy = _real("SoapySDR")
    names = _public(fake_soapy.FakeSoapyDevice)
    assert {"readStream", "writeStream", "setupStream", "setSampleRate", "close"} <= set(names)
    missing = [name for name in names if not callable(getattr(soapy.Device, name, None))]
    assert missing == []
    module = fake_soapy.FakeSoapyModule([])
    assert all(callable(getattr(soapy.Device, name, None)) for name in ("make", "enumerate"))
    assert {"Device", "Range", "StreamResult", "errToStr"} <= {name for name in vars(module) if hasattr(soapy, name)}
