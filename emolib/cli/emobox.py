"""``python -m emolib emobox``: the systems on EmoBox's speaker-dependent folds (:mod:`emolib.studies.emobox`)."""
from __future__ import annotations

from ..core import env
from .options import common


def add_to(sub) -> None:
    box = sub.add_parser("emobox", help="the openSMILE baselines, the Conv1D and the MoCo v3 probe on EmoBox's "
                         "EmoDB folds (speaker-dependent; rows <run>_emobox)",
                         description="Each system is fitted per EmoBox fold on that fold's training utterances "
                         "only (MoCo v3 pretraining included, into checkpoints/emobox, resumable; the slowest part, "
                         "its seconds are stored in the row as pretrain_s). Examples: python -m emolib emobox --systems "
                         "baselines; python -m emolib emobox --table (SI-5 beside EmoBox, from the rows)")
    box.add_argument("--systems", nargs="+", metavar="NAME", help="baselines, cnn, moco, fusion (default: all)")
    box.add_argument("--table", action="store_true", help="print SI-5 beside EmoBox from the rows in results/ "
                     "as a Markdown table (no training)")
    box.add_argument("--out", help="MoCo encoders folder (default: checkpoints/emobox, per corpus and profile)")
    common(box, device=True, quiet=True)
    box.set_defaults(func=run)


def run(args) -> int:
    from ..studies import emobox

    if args.table:  # the committed rows only, no training
        from ..evaluation.study_tables import emobox_markdown

        print(emobox_markdown(emobox.comparison(env.run_dir(env.RESULTS, args.corpus, args.profile))))
        return 0
    systems = emobox.check_systems(args.systems or list(emobox.SYSTEMS))  # before the corpus is read
    from ..data.corpus import load_corpus

    meta = load_corpus(args.corpus, args.root)
    for row in emobox.run(meta, systems, device=args.device, profile=args.profile, corpus=args.corpus,
                          out=args.out, progress=not args.quiet):
        print(f"{row['run']}: UAR {100 * row['uar']:.1f} %, WA {100 * row['wa']:.1f} %, F1 {100 * row['f1']:.1f} %")
    return 0
