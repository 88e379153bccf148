"""``python -m emolib robustness``: the systems on degraded recordings (:mod:`emolib.studies.robustness`)."""
from __future__ import annotations

from ..core import env
from .options import common


def add_to(sub) -> None:
    rob = sub.add_parser("robustness", help="every system under SI-5 on its held-out speakers' recordings degraded "
                         "(phone line, noise, rooms, codecs, gain, clipping): rows robust_<system>[_mct]_<condition>",
                         description="Each system is fitted as its own row (clean audio, or with --mct also on two "
                         "degraded copies of every training utterance from other conditions) and tested on every "
                         "condition of emolib.augmentation.degrade.CONDITIONS. Examples: python -m emolib robustness "
                         "--systems compare egemaps; python -m emolib robustness --mct; python -m emolib robustness "
                         "--table")
    rob.add_argument("--systems", nargs="+", metavar="NAME", help="registered systems (default: all of them)")
    rob.add_argument("--conditions", nargs="+", metavar="NAME", help="default: every condition")
    rob.add_argument("--mct", action="store_true", help="multi-condition training (rows robust_<system>_mct_…)")
    rob.add_argument("--table", action="store_true", help="print the rows already in results/ as a Markdown table")
    rob.add_argument("--encoders", help="the moco system's fold encoders (default: checkpoints/; "
                     "other per-fold systems read their own)")
    common(rob, device=True, quiet=True)
    rob.set_defaults(func=run)


def run(args) -> int:
    from ..studies import robustness
    from ..systems import registry

    if args.table:
        from ..evaluation.study_tables import robustness_markdown

        print(robustness_markdown(robustness.table(env.run_dir(env.RESULTS, args.corpus, args.profile))))
        return 0
    systems = registry.check(args.systems or list(registry.names()))  # before the corpus is read
    from ..data.corpus import load_corpus

    meta = load_corpus(args.corpus, args.root)
    for system in systems:
        robustness.run_system(meta, system, args.conditions, mct=args.mct, profile=args.profile, corpus=args.corpus,
                              encoders=args.encoders if system == "moco" else None, progress=not args.quiet)
    return 0
