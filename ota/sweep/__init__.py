"""The paper's comparison on one link: generative, perceptual and MSE deep JSCC vs "BPG + 5G LDPC + QAM"
vs "BPG + capacity".

Grid: every image x scheme x SNR x CBR. An image of H x W pixels gets ``k = round(CBR * 3 * H * W)``
channel symbols (:func:`models.symbols.n_symbols`) in every scheme:

- ``generative``, ``perceptual``, ``mse``: the registered model ``<family>-cbr<N>`` of that CBR
  (``N = 1/CBR``) encodes the image (conditioned on the SNR), the channel carries the symbols, the
  generator decodes the soft symbols with their noise variance and erasures; the output is quantised to
  8 bits before scoring (the PNG it would be). A model whose weights are not shipped is skipped at that
  CBR, with a note.
- ``bpg-ldpc``: the envelope of the (modulation x code rate) configurations (:data:`ENVELOPE`, or a subset):
  among the configurations whose spectral efficiency is within the AWGN capacity at the SNR, the one whose
  image, sent over the sweep's channel, scores the highest PSNR is kept (ties: the lower spectral
  efficiency), as :func:`ota.baseline.chain.envelope_best` does over AWGN; here the channel is the
  sweep's own (symbol AWGN or the OFDM link), every candidate meets the SAME channel realisation, each
  phase is timed, and a candidate that could not win even error-free is not simulated
  (:func:`run_envelope`).
- ``bpg-ldpc-fixed``: the paper's fixed configuration :data:`ota.baseline.chain.PAPER_CONFIG`
  (16-QAM, rate 2/3, n = 6144), its own curve.
- ``bpg-capacity``: HEVC at the AWGN capacity's bits, delivered without error
  (:func:`ota.baseline.chain.capacity_bound`; no channel simulation, the nominal SNR).

A digital image is lost when a transport-block CRC fails (or nothing fitted the budget, or no frame
arrived); it is scored as :func:`ota.baseline.chain.lost_image` (mid-grey) and counted as lost.

Channels (``channel``):

- ``awgn``: symbol-level complex AWGN at Es/N0 = SNR (:func:`phy.channel.awgn.awgn`); the receiver knows
  the noise variance; there is no header, the receiver is told the image size and configuration.
- ``ofdm``: every scheme's symbols go through the same OFDM link: the symbol interleaver
  (:mod:`phy.symbol_interleaver`, as :meth:`ota.link.Link.frame_symbols` does for JSCC), OFDM frames
  (:meth:`~ota.link.Link.transmit_payload`, kind JSCC or QAM, image size and model/configuration in the
  header), :class:`phy.channel.ChannelEmulator` with the named profile, the receiver, reassembly,
  de-interleaving, and the receiver's per-symbol noise variance into the generator or the soft demapper.
  A QAM payload's header carries ``model_id`` = bits per symbol and ``aux`` = the configuration's
  code id (:mod:`ota.baseline.code_ids`); the receiver decodes with the configuration it reads there.

Randomness: the channel of one (image, SNR, CBR) is drawn from ``SeedSequence([seed, crc32(key)])``
(``[seed, crc32(key), d]`` for its draw ``d >= 1`` when ``draws`` asks for several realisations), the
same for every scheme and every envelope candidate (common random numbers: the schemes meet the same
noise, fading and impairments; every scheme sends exactly ``k`` symbols, so the bursts have the same length).
An entry does not depend on the order in which entries are computed, so a resumed sweep equals a fresh one.

Resumable store: ``OUT/store.jsonl``, a first line with the configuration that fixes every entry's value
(:meth:`SweepConfig.identity`), then one line per finished (image, scheme, SNR, CBR), appended and flushed
as it completes. A run skips the entries already there; a store made with another configuration is refused
(:class:`SweepError` says what differs). The grid (schemes, SNRs, CBRs, images) is not part of the
configuration: the paper's SNR sweep and CBR sweep can share one folder. ``OUT/results.json`` is written
from the whole store at the end of a run (entries, per-point means and 95 % confidence intervals, notes).

Metrics per image: PSNR, MS-SSIM (images of at least 161 x 161 pixels), LPIPS, and DISTS when its weights
exist (else null, with a note). FID, a property of sets, is computed per point over the images when the
Inception weights exist (from per-entry feature files in ``OUT/fid_features``), else null with a note.

Threads: the sweep sets ``torch.set_num_threads(threads)`` (default 1) while it runs: Sionna's LDPC
decoder is about 50x slower with 2 threads on a 2-core machine, and the LDPC decoding dominates.

The package, one concept per module: :mod:`~ota.sweep.config` (schemes, keys, seeds, :class:`SweepConfig`),
:mod:`~ota.sweep.channels` (symbol AWGN, the OFDM link), :mod:`~ota.sweep.scoring` (:class:`Scorer`),
:mod:`~ota.sweep.schemes` (one scheme for one entry), :mod:`~ota.sweep.store` (the JSONL store),
:mod:`~ota.sweep.runner` (:func:`run_sweep`), :mod:`~ota.sweep.results` (``results.json``) and
:mod:`~ota.sweep.figures` (figures and claims; ``python -m ota.sweep.figures OUT``).
"""

from __future__ import annotations

from models.confidence import mean_and_ci
from ota.sweep.channels import Channel, OfdmChannel, Received, SymbolChannel
from ota.sweep.config import (
    CHANNELS,
    DIGITAL_SCHEMES,
    ENVELOPE,
    FID_FOLDER,
    IMAGE_METRICS,
    JSCC_SCHEMES,
    PAPER_CBRS,
    PHASES,
    RESULTS_FILE,
    SCHEMES,
    STORE_FILE,
    SweepConfig,
    SweepError,
    as_cbr,
    cbr_text,
    channel_seed,
    entry_key,
)
from ota.sweep.results import build_results, load_results, summarise, versions
from ota.sweep.runner import Sweeper, SweepRun, Task, run_sweep
from ota.sweep.schemes import (
    Clock,
    Outcome,
    error_free_score,
    run_capacity,
    run_envelope,
    run_fixed,
    run_jscc,
    send_digital,
)
from ota.sweep.scoring import Scorer
from ota.sweep.store import ResultStore

__all__ = [
    "CHANNELS",
    "Channel",
    "Clock",
    "DIGITAL_SCHEMES",
    "ENVELOPE",
    "FID_FOLDER",
    "IMAGE_METRICS",
    "JSCC_SCHEMES",
    "OfdmChannel",
    "Outcome",
    "PAPER_CBRS",
    "PHASES",
    "RESULTS_FILE",
    "Received",
    "ResultStore",
    "SCHEMES",
    "STORE_FILE",
    "Scorer",
    "SweepConfig",
    "SweepError",
    "SweepRun",
    "Sweeper",
    "SymbolChannel",
    "Task",
    "as_cbr",
    "build_results",
    "cbr_text",
    "channel_seed",
    "entry_key",
    "error_free_score",
    "load_results",
    "mean_and_ci",
    "run_capacity",
    "run_envelope",
    "run_fixed",
    "run_jscc",
    "run_sweep",
    "send_digital",
    "summarise",
    "versions",
]
