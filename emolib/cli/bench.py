"""``python -m emolib bench …``: the speed benchmarks (:mod:`emolib.app.bench`), reported as ratios
against a baseline run in the same process."""
from __future__ import annotations

from ..core import env
from .options import MODEL_HELP, ROOT_HELP


def add_to(sub) -> None:
    bench = sub.add_parser("bench", help="speed benchmarks, reported as ratios")
    bench.add_argument("name", choices=["features", "augment", "pretrain", "predict"])
    bench.add_argument("--model", default="best", help="predict: " + MODEL_HELP)
    bench.add_argument("--speaker-norm", action="store_true", help="predict: the speaker-normalised variant")
    bench.add_argument("--profile", choices=env.PROFILES, help="predict: whose trained model")
    bench.add_argument("--root", help=ROOT_HELP)
    bench.add_argument("--corpus", choices=env.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    bench.add_argument("--n", type=int, default=64, help="augment: utterances to use (default 64)")
    bench.add_argument("--seconds", type=float, default=3.0,
                       help="augment, pretrain: how long to time our pipeline (default 3 s)")
    bench.add_argument("--report-steps", type=int, default=4,
                       help="pretrain: steps of 8 samples to time the report's pipeline (default 4)")
    bench.epilog = ("Examples: python -m emolib bench features; python -m emolib bench pretrain; "
                    "python -m emolib bench predict --speaker-norm")
    bench.set_defaults(func=run)


def run(args) -> int:
    from ..app import bench

    return bench.run(args.name, args)
