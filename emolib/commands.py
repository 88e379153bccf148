"""What each ``python -m emolib`` command does, one function a command (``args``: its parsed options;
returns the exit status).  The options themselves are :mod:`emolib.cli`'s.  Each imports what it
needs when it runs, so ``--help`` and the light commands start without torch."""
from __future__ import annotations

import sys

from . import config
from .errors import EmolibError


def data_info(args) -> int:
    from .corpus import load_corpus
    from .emodb import EMOTIONS

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


def data_verify(args) -> int:
    from .corpus import find_root
    from .download import verify
    from .emodb import N_UTTERANCES

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


def data_download(args) -> int:
    from .download import download_emodb

    dest = download_emodb(args.dest)
    print(f"EmoDB downloaded, verified and installed in {dest}")
    return 0


def reproduce(args) -> int:
    from .reproduce import reproduce

    return reproduce(profile=args.profile, corpus=args.corpus, only=args.only or (), start=args.start,
                     device_request=args.device)


def results(args) -> int:
    from .results import print_results, provenance_gaps, verify_results

    folder = config.run_dir(config.RESULTS, args.corpus, args.profile)  # where this corpus and profile's rows are
    if args.timings:
        from .reproduce import timings_table

        print(timings_table(folder))
        return 0
    if args.probes:
        from .probes import readme_table

        print(readme_table(folder))
        return 0
    if args.readme:
        from .readme import README, update

        changed = update()
        print(f"{config.repo_relative(README)}: " + (f"regenerated {', '.join(changed)}" if changed else "up to date"))
        return 0
    if args.gaps:
        gaps = provenance_gaps(folder)
        print(gaps.to_string(index=False) if len(gaps) else "none")
        print(f"{len(gaps)} rows in {config.repo_relative(folder)}/ lack a field of docs/results.md's contract "
              "(written before it existed; they gain it when their study runs again)")
        return 0
    if args.verify:
        try:
            n = verify_results(folder)
        except AssertionError as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        print(f"OK: {n} runs in {config.repo_relative(folder)}/ recompute from their predictions")
        return 0
    print_results(args.corpus, args.profile, markdown=args.markdown, protocol=args.protocol, sort=args.sort)
    return 0


def pretrain(args) -> int:
    from .pretrain import main

    return main(args)


def probe(args) -> int:
    from .corpus import load_corpus
    from .probes import probe_checkpoints

    if args.curve and (len(args.out) < 2 or args.epoch is not None or args.pool != "cls" or args.blocks != 1):
        raise EmolibError("--curve: give at least two --out folders, and leave --epoch, --pool and --blocks at "
                          "their defaults (the curve probes the final encoders' class tokens)")
    meta = load_corpus(args.corpus, args.root)
    rows = probe_checkpoints(meta, args.out, args.run, epoch=args.epoch, pool=args.pool, blocks=args.blocks,
                             profile=args.profile, corpus=args.corpus)
    for row in rows:
        print(f"{row['run']}: UAR {100 * row['uar']:.1f} %, WA {100 * row['wa']:.1f} %, F1 {100 * row['f1']:.1f} % "
              f"({row['protocol']}, speaker_norm={row['speaker_norm']})")
    if args.curve:
        from .files import atomic_write
        from .studies import side_by_side_curve

        # the rows' probe (without, with speaker normalisation) is the curve's last trained point
        curve = side_by_side_curve(meta, args.out, profile=args.profile, all_folders=(rows[0]["uar"], rows[1]["uar"]))
        path = config.run_dir(config.RESULTS, args.corpus, args.profile) / f"{args.run}_curve.csv"
        atomic_write(path, curve.to_csv(index=False, float_format="%.6f").encode())
        print(f"{config.repo_relative(path)}: the probe against the number of folders side by side")
    return 0


def finetune(args) -> int:
    from .corpus import load_corpus
    from .encoders import describe_encoder, encoder_summary
    from .finetune import finetune_config
    from .studies import finetune_row

    encoder = encoder_summary(args.out)  # missing or mismatched encoders: one line, before any work
    ft = finetune_config(args.profile, **{k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None})
    meta = load_corpus(args.corpus, args.root)
    row, _, _ = finetune_row(meta, args.run, ft, args.out, encoder, f"{describe_encoder(encoder)}, fine-tuned",
                             profile=args.profile, corpus=args.corpus, device=args.device, progress=not args.quiet)
    print(f"{row['run']}: UAR {100 * row['uar']:.1f} %, WA {100 * row['wa']:.1f} %, F1 {100 * row['f1']:.1f} % "
          f"({row['protocol']}, speaker_norm={row['speaker_norm']}, {row['wall_s']:.0f} s)")
    return 0


def emobox(args) -> int:
    from . import emobox

    if args.table:  # the committed rows only, no training
        print(emobox.markdown(emobox.comparison(config.run_dir(config.RESULTS, args.corpus, args.profile))))
        return 0
    systems = emobox.check_systems(args.systems or list(emobox.SYSTEMS))  # before the corpus is read
    from .corpus import load_corpus

    meta = load_corpus(args.corpus, args.root)
    for row in emobox.run(meta, systems, device=args.device, profile=args.profile, corpus=args.corpus,
                          out=args.out, progress=not args.quiet):
        print(f"{row['run']}: UAR {100 * row['uar']:.1f} %, WA {100 * row['wa']:.1f} %, F1 {100 * row['f1']:.1f} %")
    return 0


def ablation(args) -> int:
    from . import ablation
    from .corpus import load_corpus

    if args.table:  # the committed rows only, no training
        if args.seeds is not None:
            print(ablation.seed_markdown(ablation.seed_summary(args.variants, args.seeds or None, profile=args.profile,
                                                               corpus=args.corpus, tag=args.tag or "")))
            return 0
        table = ablation.summary(args.variants, profile=args.profile, corpus=args.corpus, tag=args.tag or "")
        print(ablation.markdown(table))
        return 0
    names = args.variants or list(ablation.VARIANTS)
    ablation.check_variants(names)  # before the corpus is read
    from dataclasses import replace

    from .pretrain_config import profile_config

    changes = {k: getattr(args, k) for k in ("arch", "depth", "epochs", "lr", "warmup_epochs", "knn_every", "seed")
               if getattr(args, k) is not None}
    if changes and not args.tag:
        raise EmolibError("--tag NAME is needed with a budget other than the profile's (" + ", ".join(changes)
                          + "), so its rows ssl_<variant>_NAME never replace the profile's rows")
    base = replace(profile_config(args.profile), **changes, keep_epochs=()) if changes else None
    meta = load_corpus(args.corpus, args.root)
    table = ablation.run(meta, names, args.out, base=base, device=args.device, profile=args.profile,
                         corpus=args.corpus, progress=not args.quiet, tag=args.tag or "")
    print(table.drop(columns=["options"]).round(3).to_string())
    return 0


def fusion(args) -> int:
    from . import fusion
    from .corpus import load_corpus

    if args.table:  # the committed rows only, no training
        print(fusion.markdown(fusion.summary(args.protocol, profile=args.profile, corpus=args.corpus)))
        return 0
    systems = fusion.check_systems(args.systems or list(fusion.SYSTEMS))  # before the corpus is read
    meta = load_corpus(args.corpus, args.root)
    fusion.run(meta, systems, protocol=args.protocol, encoders=args.encoders, profile=args.profile,
               corpus=args.corpus, progress=not args.quiet)
    return 0


def train_final(args) -> int:
    from . import final
    from .corpus import load_corpus

    name, line = final.resolve(args.model, args.speaker_norm, args.corpus)  # before the corpus is read
    if line:
        print(line)
    meta = load_corpus(args.corpus, args.root)
    final.build(meta, name, args.speaker_norm, profile=args.profile, corpus=args.corpus, encoders=args.encoders,
                device=args.device, progress=not args.quiet)
    return 0


def predict(args) -> int:
    import json

    from . import final, predict

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
    if windows:
        print("\nwindows:")
        print(predict.table(windows, windows=True))
    return 0


def bench(args) -> int:
    from . import bench

    return bench.run(args.name, args)
