"""Command line: ``python -m emolib <command> …`` (also installed as ``emolib``).  One module per command,
its options beside what it does; each imports the library only when it runs, so ``--help`` and the light
commands start without torch.

    data info|verify|download       the corpus: counts, the SHA-256 manifest, the download    (cli/data.py)
    reproduce [--only NN]           the main job: the numbered notebooks, in order            (cli/reproduce.py)
    results [PATTERN] [--all]       the best row of each system family, or every row; --verify (cli/results.py)
    pretrain [--fold K|all] …       MoCo v3 on a protocol's folds (torchrun-able)             (cli/pretrain.py)
    probe --out DIR… --run NAME     linear probes of fold encoders; finetune: end to end      (cli/probe.py)
    ablation [--variants …]         the pretext ablation (ssl_<variant> rows) or its tables   (cli/ablation.py)
    diagnose [--encoders DIR…]      what the embeddings know: pitch, loudness, rate… and speaker (cli/diagnose.py)
    emobox [--systems …]            the systems on EmoBox's (speaker-dependent) folds         (cli/emobox.py)
    fusion [--systems …]            stacked fusion of the registered systems, nested per fold (cli/fusion.py)
    robustness [--mct]              the systems on degraded recordings (phone, noise, rooms…) (cli/robustness.py)
    train-final / predict FILE…     a system trained on all ten speakers; any recording's emotion (cli/final.py)
    bench NAME                      speed benchmarks, as ratios                               (cli/bench.py)

Problems with the input (``EmolibError``) are printed as one line, without a traceback, and exit with
status 2.

May import: ``core``, ``data``, ``augmentation``, ``models``, ``ssl``, ``evaluation``, ``systems``,
``studies``, ``app``.  Its modules: ``options`` (the shared options), ``data``, ``reproduce``,
``results``, ``pretrain``, ``probe``, ``ablation``, ``diagnose``, ``emobox``, ``fusion``, ``robustness``, ``final``, ``bench``.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..core.errors import EmolibError
from . import ablation, bench, data, diagnose, emobox, final, fusion, pretrain, probe, reproduce, results, robustness

#: The command modules, in the order ``--help`` lists them; each has ``add_to(subparsers)``.
COMMANDS = (data, reproduce, results, pretrain, probe, ablation, diagnose, emobox, fusion, robustness, final, bench)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emolib", description=__doc__.split("  One module")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_to(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    import signal

    if hasattr(signal, "SIGPIPE"):  # `python -m emolib results | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "device", None):  # checked before any work; then every torch training of this process uses it
            from ..core.devices import resolve

            resolve(args.device)
            os.environ["EMOLIB_DEVICE"] = args.device
        return args.func(args)
    except EmolibError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
