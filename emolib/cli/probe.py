"""``python -m emolib probe`` and ``finetune``: a folder (or several) of pretrained fold encoders,
probed with a linear classifier or fine-tuned end to end; each writes results rows."""
from __future__ import annotations

from ..core import env
from ..core.errors import EmolibError
from .options import common, positive


def add_to(sub) -> None:
    prb = sub.add_parser("probe", help="linear probes (SI-5, with and without speaker normalisation) of the "
                         "five fold encoders in a pretraining output folder; writes results rows")
    prb.add_argument("--out", required=True, nargs="+", metavar="DIR",
                     help="the folder python -m emolib pretrain --out wrote (several: their embeddings side by side)")
    prb.add_argument("--run", required=True, help="results name: writes results/<run>.json and <run>_spknorm.json")
    prb.add_argument("--epoch", type=int, help="a kept epoch's backbones (default: the final ones)")
    prb.add_argument("--pool", choices=["cls", "mean"], default="cls", help="read-out (default cls)")
    prb.add_argument("--blocks", type=int, default=1, help="concatenate the read-out of the last N blocks")
    prb.add_argument("--stats", action="store_true",
                     help="the statistics read-out: the read-out's mean, standard deviation and maximum over "
                          "half-overlapping windows (3x as wide; run names end in _stats)")
    prb.add_argument("--curve", action="store_true",
                     help="with several --out: also probe the first k folders for every k (in the order given), "
                          "and k random-weight ViTs of the same shape, into results/<run>_curve.csv")
    common(prb, device=True)
    prb.epilog = ("Examples: python -m emolib probe --out checkpoints/warp --run moco_warp_probe_logreg --blocks 4; "
                  "two pretraining seeds side by side: python -m emolib probe --out checkpoints/ablation/warp_cpu "
                  "checkpoints/ablation/warp_cpu_seed1 --run ssl_warp_cpu_seeds01 (add --curve for the probe against "
                  "the number of folders)")
    prb.set_defaults(func=probe)

    fin = sub.add_parser("finetune", help="fine-tune the five fold encoders of a pretraining output folder end to "
                         "end (notebook 04's recipe and budget); writes one results row")
    fin.add_argument("--out", required=True, help="the folder python -m emolib pretrain --out wrote")
    fin.add_argument("--run", required=True, help="results name: writes results/<run>.json")
    fin.add_argument("--epochs", type=positive, help="default: the profile's (emolib.core.budgets.FINETUNE)")
    fin.add_argument("--seed", type=int, help="default 0")
    common(fin, device=True, quiet=True)
    fin.epilog = ("Example: python -m emolib finetune --out checkpoints/ablation/warp_speaker_input_e300_cpu "
                  "--run moco_warp_speaker_input_e300_cpu_finetune --device cpu (per-speaker-input encoders give "
                  "a speaker-normalised row)")
    fin.set_defaults(func=finetune)


def _line(row: dict) -> str:
    return (f"{row['run']}: UAR {100 * row['uar']:.1f} %, WA {100 * row['wa']:.1f} %, F1 {100 * row['f1']:.1f} % "
            f"({row['protocol']}, speaker_norm={row['speaker_norm']})")


def probe(args) -> int:
    from ..data.corpus import load_corpus
    from ..evaluation.probes import probe_checkpoints

    if args.curve and (len(args.out) < 2 or args.epoch is not None or args.pool != "cls" or args.blocks != 1
                       or args.stats):
        raise EmolibError("--curve: give at least two --out folders, and leave --epoch, --pool, --blocks and --stats at "
                          "their defaults (the curve probes the final encoders' class tokens)")
    meta = load_corpus(args.corpus, args.root)
    rows = probe_checkpoints(meta, args.out, args.run, epoch=args.epoch, pool=args.pool, blocks=args.blocks,
                             stats=args.stats, profile=args.profile, corpus=args.corpus)
    for row in rows:
        print(_line(row))
    if args.curve:
        from ..core.files import atomic_write
        from ..studies.probing import side_by_side_curve

        # the rows' probe (without, with speaker normalisation) is the curve's last trained point
        curve = side_by_side_curve(meta, args.out, profile=args.profile, all_folders=(rows[0]["uar"], rows[1]["uar"]))
        path = env.run_dir(env.RESULTS, args.corpus, args.profile) / f"{args.run}_curve.csv"
        atomic_write(path, curve.to_csv(index=False, float_format="%.6f").encode())
        print(f"{env.repo_relative(path)}: the probe against the number of folders side by side")
    return 0


def finetune(args) -> int:
    from ..data.corpus import load_corpus
    from ..evaluation.finetune import finetune_config
    from ..ssl.encoders import describe_encoder, encoder_summary
    from ..studies.probing import finetune_row

    encoder = encoder_summary(args.out)  # missing or mismatched encoders: one line, before any work
    ft = finetune_config(args.profile, **{k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None})
    meta = load_corpus(args.corpus, args.root)
    row, _, _ = finetune_row(meta, args.run, ft, args.out, encoder, f"{describe_encoder(encoder)}, fine-tuned",
                             profile=args.profile, corpus=args.corpus, device=args.device, progress=not args.quiet)
    print(_line(row)[:-1] + f", {row['wall_s']:.0f} s)")
    return 0
