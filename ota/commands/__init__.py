"""The sub-commands of ``ota``, one module each, named after the command.

:data:`COMMANDS` lists them with their one-line help, so that ``ota --help`` lists every command without
importing any, and ``ota NAME`` imports only the module of NAME (torch, the radio libraries and the
digital chain load only for the commands that use them). Each module defines ``register(subparsers)``,
which adds its parser (with ``help=COMMANDS[NAME]``) and sets ``func(args) -> int`` as its default.
"""

COMMANDS: dict[str, str] = {
    "capture": "record the air to SigMF",
    "eval": "score a model over AWGN on a folder of images (PSNR, MS-SSIM, LPIPS per SNR)",
    "loopback": "transmit and receive an image on one radio",
    "replay": "decode a recorded SigMF capture",
    "rx": "receive an image from a radio",
    "simulate": "transmit an image through a simulated channel (no radio)",
    "study": "build a 2AFC user study page from two schemes' reconstructions, and analyse its answers",
    "sweep": "deep JSCC vs BPG + LDPC + QAM vs BPG + capacity over SNR and CBR: results.json, figures, claims",
    "train": "train a deep JSCC model (pretrain, discriminator, adversarial stages)",
    "tx": "transmit an image on a radio",
}
