"""``python -m emolib data info|verify|download``: the corpus."""
from __future__ import annotations

import sys

from ..core import env
from .options import ROOT_HELP


def add_to(sub) -> None:
    data = sub.add_parser("data", help="inspect, verify or download the corpus")
    dsub = data.add_subparsers(dest="action", required=True)
    info = dsub.add_parser("info", help="counts by emotion, speaker and gender; total duration")
    info.add_argument("--root", help=ROOT_HELP)
    info.add_argument("--corpus", choices=env.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    info.epilog = "Examples: python -m emolib data info; python -m emolib data info --corpus synthetic"
    info.set_defaults(func=info_command)
    ver = dsub.add_parser("verify", help="check every WAV against the SHA-256 manifest")
    ver.add_argument("--root", help=ROOT_HELP)
    ver.epilog = "Example: python -m emolib data verify --root ~/data/emodb"
    ver.set_defaults(func=verify_command)
    dl = dsub.add_parser("download", help="download, verify and install EmoDB")
    dl.add_argument("--dest", help="target folder (default: the per-user cache)")
    dl.epilog = "Examples: python -m emolib data download; python -m emolib data download --dest ~/data/emodb"
    dl.set_defaults(func=download_command)


def info_command(args) -> int:
    from ..data.corpus import load_corpus
    from ..data.emodb import EMOTIONS

    meta = load_corpus(args.corpus, args.root)
    letters = {v: k for k, v in EMOTIONS.items()}
    print(f"corpus: {meta.attrs['corpus']}  ({len(meta)} utterances)")
    print("emotion:  " + "  ".join(f"{letters[e]} {e} {n}" for e, n in
                                   meta.emotion.value_counts(sort=False).items()))
    by_speaker = meta.groupby("speaker").agg(gender=("gender", "first"), n=("file", "size"))
    print(f"speakers: {len(by_speaker)}  " + "  ".join(f"{s}({r.gender}) {r.n}"
                                                       for s, r in by_speaker.iterrows()))
    print("gender:   " + "  ".join(f"{g} {n}" for g, n in meta.gender.value_counts().sort_index().items()))
    total = meta.duration.sum()
    print(f"duration: {total / 60:.1f} min total, {meta.duration.mean():.2f} s mean "
          f"({meta.duration.min():.2f}–{meta.duration.max():.2f} s)")
    return 0


def verify_command(args) -> int:
    from ..data.corpus import find_root
    from ..data.download import verify
    from ..data.emodb import N_UTTERANCES

    root = find_root(args.root, download=False)
    report = verify(root)
    for line in report.lines():
        print(line)
    if report.problems:
        bad = len(report.problems) - report.missing
        print(f"FAILED: {bad} bad file(s), {report.missing} missing; {report.ok} of "
              f"{N_UTTERANCES} EmoDB files verified in {root}", file=sys.stderr)
        return 1
    print(f"OK: {report.ok} files match the EmoDB SHA-256 manifest ({root})")
    return 0


def download_command(args) -> int:
    from ..data.download import download_emodb

    dest = download_emodb(args.dest)
    print(f"EmoDB downloaded, verified and installed in {dest}")
    return 0
