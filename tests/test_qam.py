"""Gray QAM: unit energy, Gray neighbours, agreement with Sionna's Mapper, LLR signs and values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sionna.phy.mapping import Mapper

from ota.baseline.qam import MODULATIONS, Qam, QamError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("modulation", list(MODULATIONS))
def test_unit_energy_and_distinct_points(modulation):
    qam = Qam(modulation)
    assert qam.points.shape == (2 ** MODULATIONS[modulation],)
    assert qam.points.dtype == np.complex64
    assert np.mean(np.abs(qam.points) ** 2) == pytest.approx(1.0, abs=1e-6)
    assert abs(qam.points.mean()) < 1e-6
    distances = np.abs(qam.points[:, None] - qam.points[None, :])
    assert distances[~np.eye(qam.points.size, dtype=bool)].min() > 0.05


@pytest.mark.parametrize("modulation", list(MODULATIONS))
def test_gray_labelling_nearest_neighbours_differ_in_one_bit(modulation):
    qam = Qam(modulation)
    distances = np.abs(qam.points[:, None] - qam.points[None, :])
    np.fill_diagonal(distances, np.inf)
    neighbours = np.isclose(distances, distances.min(), rtol=1e-4)
    hamming = (qam.labels[:, None, :] != qam.labels[None, :, :]).sum(axis=-1)
    assert (hamming[neighbours] == 1).all()
    # every point has its full set of nearest neighbours: 1 on the BPSK line, 2 to 4 on a square grid
    expected_min = 1 if modulation == "bpsk" else 2
    assert neighbours.sum(axis=1).min() == expected_min
    if modulation not in ("bpsk", "qpsk"):
        assert neighbours.sum(axis=1).max() == 4


@pytest.mark.parametrize("modulation", ["qpsk", "16qam", "256qam"])
def test_map_agrees_with_sionna_mapper(modulation):
    qam = Qam(modulation)
    bits = np.random.default_rng(1).integers(0, 2, 64 * qam.bits_per_symbol, dtype=np.uint8)
    reference = Mapper("qam", qam.bits_per_symbol, device="cpu")(torch.from_numpy(bits.astype(np.float32)))
    np.testing.assert_allclose(qam.map(bits), reference.numpy(), atol=1e-6)


@pytest.mark.parametrize("modulation", list(MODULATIONS))
@pytest.mark.parametrize("method", ["app", "maxlog"])
def test_noiseless_llr_signs_are_the_sent_bits(modulation, method):
    qam = Qam(modulation, method)
    bits = np.random.default_rng(2).integers(0, 2, 200 * qam.bits_per_symbol, dtype=np.uint8)
    symbols = qam.map(bits)
    llr = qam.demap(symbols, np.full(symbols.size, 1e-3))
    assert llr.dtype == np.float32 and llr.shape == bits.shape
    # positive LLR means bit 0
    np.testing.assert_array_equal((llr < 0).astype(np.uint8), bits)
    assert np.abs(llr).min() > 10
    np.testing.assert_array_equal(qam.hard_bits(symbols + 0.01 * (1 + 1j)), bits)


def test_bpsk_llr_value_and_erasure():
    qam = Qam("bpsk")
    y = np.array([0.3 + 0.2j, -0.7 - 0.1j, 5.0 + 0j], dtype=np.complex64)
    noise_var = np.array([0.5, 2.0, np.inf])
    llr = qam.demap(y, noise_var)
    # log P(0|y)/P(1|y) = (|y+1|^2 - |y-1|^2) / N0 = 4 Re(y) / N0; an erased symbol gives 0
    np.testing.assert_allclose(llr, [4 * 0.3 / 0.5, 4 * -0.7 / 2.0, 0.0], rtol=1e-5)


def test_maxlog_matches_app_for_strong_decisions():
    qam = Qam("16qam")
    bits = np.random.default_rng(3).integers(0, 2, 400, dtype=np.uint8)
    symbols = qam.map(bits)
    app = Qam("16qam", "app").demap(symbols, 0.01)
    maxlog = Qam("16qam", "maxlog").demap(symbols, 0.01)
    np.testing.assert_allclose(maxlog, app, rtol=1e-3, atol=1e-3)


def test_scalar_noise_variance_equals_per_symbol():
    qam = Qam("64qam")
    rng = np.random.default_rng(4)
    symbols = qam.map(rng.integers(0, 2, 60, dtype=np.uint8)) + 0.1 * rng.standard_normal(10)
    np.testing.assert_array_equal(qam.demap(symbols, 0.05), qam.demap(symbols, np.full(10, 0.05)))


def test_bad_input_is_refused():
    with pytest.raises(QamError, match="unknown modulation"):
        Qam("8psk")
    with pytest.raises(QamError, match="demapping"):
        Qam("qpsk", "exact")
    qam = Qam("16qam")
    with pytest.raises(QamError, match="multiple of 4"):
        qam.map(np.zeros(6, dtype=np.uint8))
    with pytest.raises(QamError, match="0 or 1"):
        qam.map(np.full(4, 2, dtype=np.uint8))
    with pytest.raises(QamError, match="noise_var"):
        qam.demap(np.zeros(3, dtype=np.complex64), np.array([1.0, 0.0, 1.0]))
