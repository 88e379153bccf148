"""``python -m emolib train-final`` and ``predict``: a results system trained on every speaker, and the
emotion of any recording by it (:mod:`emolib.systems.final`, :mod:`emolib.systems.predict`)."""
from __future__ import annotations

import os

from ..core import env
from ..core.errors import EmolibError
from .options import MODEL_HELP, common


def add_to(sub) -> None:
    fin = sub.add_parser("train-final", help="train a results system on all ten speakers (for predict), into "
                         "checkpoints/final", description="The same recipe as the system's SI-5 row, fitted on "
                         "every speaker; a fusion's stacker on out-of-fold probabilities of the SI-5 folds. "
                         "Examples: python -m emolib train-final; python -m emolib train-final --model "
                         "fusion_compare_egemaps_moco_cnn --speaker-norm")
    fin.add_argument("--model", default="best", help=MODEL_HELP)
    fin.add_argument("--speaker-norm", action="store_true", help="the speaker-normalised variant (_spknorm)")
    fin.add_argument("--encoders", help="a model with moco: its SI-5 fold encoders for the out-of-fold probabilities (default: checkpoints/; "
                     "cnnsig reads checkpoints/ablation/cnn_sig)")
    common(fin, device=True, quiet=True)
    fin.set_defaults(func=train_final)

    prd = sub.add_parser("predict", help="the emotion of any recording, from a system trained by train-final",
                         description="Any sample rate (resampled to 16 kHz), stereo (mixed down), WAV/FLAC/OGG "
                         "(MP3 where soundfile reads it). Files up to 10 s are scored whole, longer ones in 3-s "
                         "windows every 1.5 s. Examples: python -m emolib predict my.wav; python -m emolib predict "
                         "talk.flac --per-window --json; python -m emolib predict speaker1/*.wav --speaker-norm")
    prd.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    prd.add_argument("--model", default="best", help=MODEL_HELP)
    prd.add_argument("--speaker-norm", action="store_true", help="use the speaker-normalised system: every file "
                     "given in this one call must be the same speaker's (at least 10 recordings or windows); "
                     "their statistics stand for the speaker's")
    prd.add_argument("--per-window", action="store_true", help="also the emotion of every 3-s window (over time)")
    prd.add_argument("--json", action="store_true", help="JSON instead of a table")
    prd.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="feature processes (default: all cores)")
    prd.add_argument("--profile", choices=env.PROFILES, help="whose trained model (default: EMOLIB_PROFILE or full)")
    prd.add_argument("--corpus", choices=env.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    prd.set_defaults(func=predict)


def train_final(args) -> int:
    from ..data.corpus import load_corpus
    from ..systems import final

    name, line = final.resolve(args.model, args.speaker_norm, args.corpus)  # before the corpus is read
    if line:
        print(line)
    meta = load_corpus(args.corpus, args.root)
    final.build(meta, name, args.speaker_norm, profile=args.profile, corpus=args.corpus, encoders={"moco": args.encoders} if args.encoders else None,
                device=args.device, progress=not args.quiet)
    return 0


def predict(args) -> int:
    import json

    from ..systems import final, predict

    if args.jobs < 1:
        raise EmolibError(f"--jobs {args.jobs}: give 1 or more feature processes")
    name, line = final.resolve(args.model, args.speaker_norm, args.corpus)
    model = final.load(name, args.speaker_norm, corpus=args.corpus, profile=args.profile)
    files, windows = predict.predict_files(model, args.files, per_window=args.per_window, jobs=args.jobs)
    if args.json:
        print(json.dumps({"model": model.info["row"], "files": [p.to_dict() for p in files],
                          "windows": [p.to_dict() for p in windows]}, indent=1))
        return 0
    if line:
        print(line)
    print(predict.table(files))
    print("\nquality:")
    print(predict.quality_lines(files))
    if windows:
        print("\nwindows:")
        print(predict.table(windows, windows=True))
    return 0
