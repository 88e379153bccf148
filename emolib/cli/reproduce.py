"""``python -m emolib reproduce``: the main job, the numbered notebooks executed in order
(:mod:`emolib.app.reproduce`)."""
from __future__ import annotations

from ..core import env


def add_to(sub) -> None:
    rep = sub.add_parser("reproduce", help="execute the numbered notebooks in order, in place",
                         description="Each notebook's wall time is printed and kept in results/timings.json "
                         "(results/<corpus>-<profile>/ off the real EmoDB run). full: the long studies "
                         "(emolib.core.budgets.LONG_STUDIES) are read from their committed rows; extended re-runs them. "
                         "Examples: python -m emolib reproduce; "
                         "python -m emolib reproduce --only 06; python -m emolib reproduce --from 04 --profile smoke")
    rep.add_argument("--profile", choices=env.PROFILES, help="default: EMOLIB_PROFILE or full")
    rep.add_argument("--corpus", choices=env.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    part = rep.add_mutually_exclusive_group()
    part.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks (number or name)")
    part.add_argument("--from", dest="start", metavar="NN", help="run this notebook and those after it")
    rep.add_argument("--device", help="where the notebooks pretrain: auto (default: the GPU when there is one), cpu, "
                     "cuda or cuda:N (sets EMOLIB_DEVICE for their kernels)")
    rep.set_defaults(func=run)


def run(args) -> int:
    from ..app.reproduce import reproduce

    return reproduce(profile=args.profile, corpus=args.corpus, only=args.only or (), start=args.start,
                     device_request=args.device)
