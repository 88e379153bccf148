"""``python -m emolib ablation``: the pretext ablation (:mod:`emolib.studies.ablation`), or its tables."""
from __future__ import annotations

from ..core.errors import EmolibError
from .options import common


def add_to(sub) -> None:
    from ..ssl import shortcut

    abl = sub.add_parser("ablation", help="the pretext ablation and the learners' study: pretrain, probe and "
                         "measure each variant (writes results rows ssl_<variant> and ssl_<variant>_spknorm)",
                         description="Each variant is the profile's pretraining budget with some pretext options "
                         "changed (emolib.ssl.shortcut.VARIANTS) or another learner: a CNN encoder, the masked "
                         "objective, signal-derived targets (emolib.ssl.shortcut.LEARNERS: "
                         f"{', '.join(shortcut.LEARNERS)}; their rows also ssl_<learner>_stats for the statistics read-out); "
                         "all five SI-5 folds are pretrained (resumable), probed and measured. Examples: python -m emolib ablation --variants report warp "
                         "--device cuda; at another budget: python -m emolib ablation --variants warp -a vit_small "
                         "--depth 12 --epochs 150 --lr 1e-3 --warmup-epochs 10 --knn-every 25 --tag vits12_e150; "
                         "another seed: python -m emolib ablation --variants warp --seed 1 (rows ssl_warp_seed1)")
    abl.add_argument("--variants", nargs="+", metavar="NAME", help="default: every pretext variant and learner")
    abl.add_argument("--out", help="encoders folder (default: checkpoints/ablation, per corpus and profile)")
    common(abl, device=True, quiet=True)
    abl.add_argument("--table", action="store_true", help="print the rows already in results/ as a Markdown table "
                     "(no training)")
    abl.add_argument("--learners", action="store_true", help="with --table: the learners' study (each learner's "
                     "class-token and statistics rows over their seeds, the recipe, the default and the openSMILE sets, "
                     "against the targets)")
    abl.add_argument("--seeds", nargs="*", type=int, metavar="S", help="with --table: mean ± sd over the seeds S "
                     "(none given: every seed with rows) at the budget --tag names")
    abl.add_argument("--tag", help="a budget other than the profile's: rows ssl_<variant>_TAG (e.g. vits12_e150)")
    abl.add_argument("-a", "--arch", choices=["vit_tiny", "vit_small", "vit_base"])
    abl.add_argument("--depth", type=int)
    abl.add_argument("--epochs", type=int)
    abl.add_argument("--lr", type=float, help="base learning rate (lr * batch / 256)")
    abl.add_argument("--warmup-epochs", type=float)
    abl.add_argument("--knn-every", type=int)
    abl.add_argument("--seed", type=int, help="another seed of the same budget: rows ssl_<variant>[_TAG]_seed<S> "
                     "(with --table: the rows of that seed)")
    abl.set_defaults(func=run)


def run(args) -> int:
    from ..evaluation import study_tables
    from ..studies import ablation

    tag = args.tag or ""
    if args.table:  # the committed rows only, no training
        if args.learners:
            from ..core import env
            from ..studies import learners

            print(study_tables.learners_markdown(learners.study_table(env.run_dir(env.RESULTS, args.corpus, args.profile))))
        elif args.seeds is not None:
            print(study_tables.seeds_markdown(ablation.seed_summary(args.variants, args.seeds or None, profile=args.profile,
                                                              corpus=args.corpus, tag=tag)))
        else:
            print(study_tables.ablation_markdown(ablation.summary(args.variants, profile=args.profile, corpus=args.corpus,
                                                            tag=tag, seed=args.seed or 0)))
        return 0
    if args.learners:
        raise EmolibError("--learners prints the learners' study with --table; to train learners name them: "
                          "--variants cnn cnn_sig …")
    names = args.variants or list(ablation.VARIANTS)
    ablation.check_variants(names)  # before the corpus is read
    ablation.run_name(names[0], tag, args.seed or 0)  # a tag that holds a seed: one line, before any work
    from dataclasses import replace

    from ..data.corpus import load_corpus
    from ..ssl.pretrain_config import profile_config

    budget = {k: getattr(args, k) for k in ("arch", "depth", "epochs", "lr", "warmup_epochs", "knn_every")
              if getattr(args, k) is not None}
    if budget and not tag:
        raise EmolibError("--tag NAME is needed with a budget other than the profile's (" + ", ".join(budget)
                          + "), so its rows ssl_<variant>_NAME never replace the profile's rows")
    fixed = [n for n in names if "arch" in ablation.VARIANTS[n]]
    if fixed and {"arch", "depth"} & set(budget):
        raise EmolibError(f"-a/--depth: {', '.join(fixed)} train their own encoder "
                          f"({ablation.VARIANTS[fixed[0]]['arch']}); drop the flags or those variants")
    changes = {**budget, **({"seed": args.seed} if args.seed is not None else {})}
    base = replace(profile_config(args.profile), **changes, keep_epochs=()) if changes else None
    meta = load_corpus(args.corpus, args.root)
    table = ablation.run(meta, names, args.out, base=base, device=args.device, profile=args.profile,
                         corpus=args.corpus, progress=not args.quiet, tag=tag)
    print(table.drop(columns=["options"]).round(3).to_string())
    return 0
