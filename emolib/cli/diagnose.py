"""``python -m emolib diagnose``: what each learner's embeddings know (:mod:`emolib.studies.learners`)."""
from __future__ import annotations

from .options import common


def add_to(sub) -> None:
    dia = sub.add_parser("diagnose", help="what the embeddings know: label-free properties (pitch, loudness, rate, "
                         "voice quality, slope) read back under SI-5, and the speaker; writes results/knowledge.csv",
                         description="For a random-weight ViT, the report's recipe, the default encoder (each also "
                         "with the statistics read-out), any --encoders folder and the eGeMAPS functionals: the "
                         "out-of-fold R² of each property (ridge regression fitted on the training speakers) and "
                         "5-NN speaker accuracy. Examples: python -m emolib diagnose; python -m emolib diagnose "
                         "--encoders checkpoints/cnn")
    dia.add_argument("--encoders", nargs="+", default=[], metavar="DIR",
                     help="more folders of fold encoders (python -m emolib pretrain --out) to diagnose")
    dia.add_argument("--table", action="store_true", help="print results/knowledge.csv as a Markdown table")
    common(dia, quiet=True)
    dia.set_defaults(func=run)


def run(args) -> int:
    from ..studies import learners

    if args.table:
        from ..core import env
        from ..evaluation.study_tables import knowledge_markdown

        print(knowledge_markdown(learners.read(env.run_dir(env.RESULTS, args.corpus, args.profile))))
        return 0
    folders = learners.encoder_folders(args.profile, args.corpus, args.encoders)
    from ..ssl.encoders import encoder_summary

    for folder in folders.values():  # missing encoders: one line, before the corpus is read
        encoder_summary(folder)
    from ..data.corpus import load_corpus

    meta = load_corpus(args.corpus, args.root)
    table = learners.diagnose(meta, folders, profile=args.profile, corpus=args.corpus, progress=not args.quiet)
    print(table.round(2).to_string())
    return 0
