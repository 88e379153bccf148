"""The options several commands share, and argparse types."""
from __future__ import annotations

import argparse

from ..core import env

DEVICE_HELP = "cpu, cuda, cuda:1 … for every torch training it runs (default: EMOLIB_DEVICE, else the GPU when there is one)"
ROOT_HELP = "corpus folder (default: EMODB_ROOT, then the cache)"
MODEL_HELP = ("a results system (emolib.systems.registry): best (default: the highest SI-5 UAR of the single systems "
              "and the fusion of them all), baseline_compare_logreg, baseline_egemaps_logreg, moco_probe_logreg, "
              "cnn_si5_whole or fusion_<systems>")


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def profile_and_corpus(parser: argparse.ArgumentParser, profile_help: str = "default: EMOLIB_PROFILE or full") -> None:
    parser.add_argument("--profile", choices=env.PROFILES, help=profile_help)
    parser.add_argument("--corpus", choices=env.CORPORA, help="default: EMOLIB_CORPUS or emodb")


def common(parser: argparse.ArgumentParser, device: bool = False, quiet: bool = False) -> None:
    """The options every training command shares: where and on what it runs."""
    if device:
        parser.add_argument("--device", help=DEVICE_HELP)
    profile_and_corpus(parser)
    parser.add_argument("--root", help=ROOT_HELP)
    if quiet:
        parser.add_argument("--quiet", action="store_true", help="no progress bars")
