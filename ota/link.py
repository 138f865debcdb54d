"""The link that joins the models and the physical layer.

Transmit: image -> encoder -> complex symbols (E|s|^2 = 1) -> OFDM frames -> baseband samples.
Receive: baseband samples -> receiver -> frames -> soft symbols, per-symbol noise variance and
erasures (frames that never arrived) -> generator -> image.

The models run on the GPU when there is one (``device="auto"``). The link also carries the digital
chain's QAM payloads: :meth:`Link.transmit_payload` / :meth:`Link.receive_payloads` work on any
``complex64`` payload with its header fields.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from models.checkpoint import ModelCard
from models.jscc import DeepJSCC
from models.registry import MODEL_IDS, load_model
from phy.header import PayloadKind
from phy.link_config import LinkConfig
from phy.numerology import Numerology
from phy.reassembly import Reassembled, reassemble
from phy.receiver import Receiver
from phy.rx_frame import RxFrame
from phy.symbol_interleaver import deinterleave, interleave
from phy.transmitter import Transmitter, TxBurst

CUSTOM_MODEL_ID = 0


def model_id(name: str) -> int:
    """Header id of a registered model name (1..); :data:`CUSTOM_MODEL_ID` for a checkpoint path."""
    return MODEL_IDS.get(name, CUSTOM_MODEL_ID)


def model_name(identifier: int) -> str | None:
    """Registered model name of a header id, or None for a custom or unknown id."""
    return next((name for name, known in MODEL_IDS.items() if known == identifier), None)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class TxImage:
    """What was sent for one image: the burst and the symbols inside it."""

    burst: TxBurst
    symbols: np.ndarray  # complex64 (k,)
    height: int
    width: int


@dataclass
class RxImage:
    """What came back for one image."""

    image: torch.Tensor | None  # (3, H, W) in [0, 1]; None when no frame of it was found
    payload: Reassembled | None
    frames: list[RxFrame]


class Link:
    """A deep-JSCC model on an OFDM physical layer.

    Args:
        model: the JSCC model (moved to ``device`` and put in eval mode here).
        card: its model card.
        name: the registered name or path it was loaded from (sets the header's model id).
        config: the physical layer's configuration (numerology, framing, receiver).
        device: torch device for the encoder and generator.

    Attributes:
        config: the configuration in effect (what results echo): the receiver's midamble interval is the
            framing's, since the receiver cannot read it off the air.
    """

    def __init__(self, model: DeepJSCC, card: ModelCard, name: str, config: LinkConfig,
                 device: torch.device) -> None:
        self.model = model.to(device).eval()
        self.card = card
        self.name = name
        self.device = device
        self.config = replace(config, receiver=replace(config.receiver,
                                                       midamble_interval=config.frame.midamble_interval))
        self.transmitter = Transmitter(self.config.numerology, self.config.frame)
        self.receiver = Receiver(self.config.numerology, self.config.receiver)

    @classmethod
    def load(cls, model: str, config: LinkConfig | None = None, device: str = "auto") -> Link:
        """Load a model by registered name or checkpoint path and build the link around it (the one place
        a link is built: every command and the sweep come here with a :class:`LinkConfig`)."""
        dev = resolve_device(device)
        net, card = load_model(model, device=dev)
        return cls(net, card, model, config or LinkConfig(), dev)

    @property
    def numerology(self) -> Numerology:
        return self.config.numerology

    @property
    def cbr(self) -> float:
        return float(self.model.cbr)

    @torch.no_grad()
    def encode(self, image: torch.Tensor, snr_db: float) -> np.ndarray:
        """(3, H, W) image in [0, 1] -> complex64 symbols (k,), mean power 1.

        ``snr_db`` is the SNR the encoder is conditioned on (the link's nominal SNR).
        """
        x = image.to(self.device)[None]
        snr = torch.tensor([snr_db], dtype=torch.float32, device=self.device)
        return self.model.encode(x, snr)[0].cpu().numpy().astype(np.complex64)

    @torch.no_grad()
    def decode(
        self, symbols: np.ndarray, noise_var: np.ndarray, erased: np.ndarray, size: tuple[int, int]
    ) -> torch.Tensor:
        """Soft symbols (k,), per-symbol noise variance (k,), erasures (k,) -> (3, H, W) image on the CPU."""
        s_hat = torch.from_numpy(np.asarray(symbols, dtype=np.complex64))[None].to(self.device)
        nv = torch.from_numpy(np.asarray(noise_var, dtype=np.float32))[None].to(self.device)
        er = torch.from_numpy(np.asarray(erased, dtype=bool))[None].to(self.device)
        return self.model.decode(s_hat, size=size, noise_var=nv, erased=er)[0].float().cpu()

    def transmit_payload(
        self, payload: np.ndarray, *, kind: PayloadKind, sequence: int, height: int, width: int,
        identifier: int, aux: int,
    ) -> TxBurst:
        """Any complex64 payload (JSCC or QAM symbols) -> one burst of OFDM frames."""
        return self.transmitter.transmit(
            np.asarray(payload, dtype=np.complex64), payload_kind=kind, sequence=sequence,
            height=height, width=width, model_id=identifier, aux=aux,
        )

    def frame_payload(
        self, symbols: np.ndarray, *, kind: PayloadKind, sequence: int, height: int, width: int,
        identifier: int, aux: int,
    ) -> TxBurst:
        """Any scheme's symbols (k,) -> one burst of OFDM frames, interleaved first
        (:mod:`phy.symbol_interleaver`: even power per OFDM symbol; a lost frame becomes scattered erasures)."""
        return self.transmit_payload(
            interleave(np.asarray(symbols, dtype=np.complex64)), kind=kind, sequence=sequence, height=height,
            width=width, identifier=identifier, aux=aux,
        )

    def frame_symbols(self, symbols: np.ndarray, height: int, width: int, sequence: int = 0) -> TxBurst:
        """JSCC symbols (k,) of an H x W image -> one burst of OFDM frames (header says model and CBR)."""
        return self.frame_payload(
            symbols, kind=PayloadKind.JSCC, sequence=sequence, height=height, width=width,
            identifier=model_id(self.name), aux=round(1 / self.cbr),
        )

    def transmit_image(self, image: torch.Tensor, snr_db: float, sequence: int = 0) -> TxImage:
        """Encode an image and put its symbols into OFDM frames."""
        symbols = self.encode(image, snr_db)
        height, width = int(image.shape[1]), int(image.shape[2])
        return TxImage(self.frame_symbols(symbols, height, width, sequence), symbols, height, width)

    def receive_payloads(self, samples: np.ndarray) -> list[RxFrame]:
        """Every frame the receiver finds in a stream of baseband samples."""
        return self.receiver.receive(samples)

    def receive_payload(
        self, samples: np.ndarray, kind: PayloadKind, sequence: int | None = None, total_len: int | None = None
    ) -> tuple[Reassembled | None, list[RxFrame]]:
        """The payload of one transmission of ``kind`` in ``samples`` (:meth:`payload_of` its frames)."""
        return self.payload_of(self.receive_payloads(samples), kind, sequence, total_len)

    def payload_of(
        self, frames: list[RxFrame], kind: PayloadKind, sequence: int | None = None, total_len: int | None = None
    ) -> tuple[Reassembled | None, list[RxFrame]]:
        """The payload of one transmission of ``kind`` among received ``frames``, de-interleaved, and its frames.

        With ``sequence`` None the first sequence of that kind found is used. Frames that never arrived
        are erased; ``total_len`` (when known) builds the payload even when no frame arrived.
        """
        frames = [f for f in frames if f.header.payload_kind == kind]
        chosen = frames[0].header.sequence if frames and sequence is None else sequence
        frames = [f for f in frames if f.header.sequence == chosen]
        if not frames and total_len is None:
            return None, []
        payload = reassemble(frames, total_len=total_len, sequence=chosen)
        return replace(payload, symbols=deinterleave(payload.symbols), noise_var=deinterleave(payload.noise_var),
                       erased=deinterleave(payload.erased)), frames

    def receive_jscc(self, samples: np.ndarray, sequence: int | None = None) -> tuple[Reassembled | None, list]:
        """The JSCC payload of one image in ``samples`` (see :meth:`receive_payload`), checked against the
        loaded model."""
        return self.jscc_of(self.receive_payloads(samples), sequence)

    def jscc_of(self, frames: list[RxFrame], sequence: int | None = None) -> tuple[Reassembled | None, list]:
        """The JSCC payload of one image among received ``frames``, checked against the loaded model."""
        payload, frames = self.payload_of(frames, PayloadKind.JSCC, sequence)
        if frames:
            self._check_model(frames[0].header.model_id, frames[0].header.aux)
        return payload, frames

    def receive_image(self, samples: np.ndarray, sequence: int | None = None) -> RxImage:
        """Find the JSCC frames of one image in ``samples`` and rebuild the image (a partial reception
        still yields one: the symbols of missing frames reach the generator as erasures)."""
        return self.image_of(self.receive_payloads(samples), sequence)

    def image_of(self, frames: list[RxFrame], sequence: int | None = None) -> RxImage:
        """Rebuild the image of ``sequence`` (default: the first) from received ``frames``."""
        payload, frames = self.jscc_of(frames, sequence)
        if payload is None:
            return RxImage(None, None, [])
        size = (payload.header.height, payload.header.width)
        return RxImage(self.decode(payload.symbols, payload.noise_var, payload.erased, size), payload, frames)

    def _check_model(self, identifier: int, aux: int) -> None:
        """Refuse to decode symbols that another model (by header id or CBR) produced."""
        sent = model_name(identifier)
        if sent is not None and sent != self.name and identifier != model_id(self.name):
            raise ValueError(
                f"the frames were made by model '{sent}' but the receiver loaded '{self.name}'; "
                f"pass --model {sent}"
            )
        if aux != round(1 / self.cbr):
            raise ValueError(
                f"the frames carry CBR 1/{aux} but the model '{self.name}' has CBR 1/{round(1 / self.cbr)}; "
                "load the model that sent them with --model"
            )
