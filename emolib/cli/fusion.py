"""``python -m emolib fusion``: the stacked fusion of the registered systems (:mod:`emolib.systems.fusion`)."""
from __future__ import annotations

from .options import common


def add_to(sub) -> None:
    from ..systems import registry

    fus = sub.add_parser("fusion", help="the best system: stacked fusion of the openSMILE, MoCo v3, Conv1D and "
                         "self-supervised CNN systems, nested inside each fold (rows fusion_<systems>[_spknorm])",
                         description="Each base system's class probabilities come from the protocol's other folds "
                         "inside each fold's training rows, so no test speaker reaches the stacker. Rows for all "
                         "systems and for each leave-one-out subset, without and with speaker normalisation. "
                         "Examples: python -m emolib fusion; python -m emolib fusion --systems compare egemaps moco "
                         "--protocol emobox")
    fus.add_argument("--systems", nargs="+", metavar="NAME", help="two or more systems of emolib.systems.registry "
                     f"(default: all of them: {', '.join(registry.names())})")
    fus.add_argument("--protocol", choices=["si5", "emobox"], default="si5",
                     help="si5 (default) or EmoBox's speaker-dependent folds (rows end in _emobox)")
    fus.add_argument("--table", action="store_true", help="print the fusion rows already in results/ as a Markdown "
                     "table (no training)")
    fus.add_argument("--encoders", help="the moco system's fold encoders (default: checkpoints/, or checkpoints/emobox; "
                     "cnnsig reads the learners' study's, checkpoints/ablation/cnn_sig)")
    common(fus, device=True, quiet=True)
    fus.set_defaults(func=run)


def run(args) -> int:
    from ..systems import fusion, registry

    if args.table:  # the committed rows only, no training
        from ..evaluation.study_tables import fusion_markdown

        print(fusion_markdown(fusion.summary(args.protocol, profile=args.profile, corpus=args.corpus)))
        return 0
    systems = registry.check(args.systems or list(registry.names()), at_least=2)  # before the corpus is read
    from ..data.corpus import load_corpus

    meta = load_corpus(args.corpus, args.root)
    fusion.run(meta, systems, protocol=args.protocol, encoders={"moco": args.encoders} if args.encoders else None,
               profile=args.profile,
               corpus=args.corpus, progress=not args.quiet)
    return 0
