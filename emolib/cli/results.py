"""``python -m emolib results``: the results store (``results/``), as tables, checked, or written into the
repository's generated pages."""
from __future__ import annotations

import sys

from ..core import env
from ..evaluation.tables import TABLE_PROTOCOLS
from .options import profile_and_corpus


def add_to(sub) -> None:
    res = sub.add_parser("results", help="the evaluated runs (results/): the best of each system family, or every row",
                         description="Without options: the best SI-5 row of each system family, raw and "
                         "speaker-normalised, beside the report's quoted numbers. A PATTERN (shell-style, e.g. "
                         "'ssl_warp*') lists the rows it matches; --all lists every row.")
    res.add_argument("pattern", nargs="?", metavar="PATTERN", help="only runs whose name matches (e.g. 'fusion_*')")
    profile_and_corpus(res)
    res.add_argument("--all", action="store_true", help="every row, one a line")
    res.add_argument("--protocol", choices=TABLE_PROTOCOLS,
                     help="with --all or a PATTERN: only speaker-independent runs (si5: SI-5, LOSO), only the runs on "
                     "EmoBox's speaker-dependent folds, or only the leaky random-split runs and the report's quotes")
    res.add_argument("--sort", choices=["uar", "wa", "run"], default="uar",
                     help="with --all or a PATTERN: best UAR (default) or WA first within each protocol, or by run name")
    res.add_argument("--markdown", action="store_true", help="every row as a Markdown table (results/README.md's)")
    res.add_argument("--headline", action="store_true", help="the default view as Markdown (the README's table)")
    res.add_argument("--timings", action="store_true", help="the run-time table of reproduce (results/timings.json)")
    res.add_argument("--total", action="store_true", help="with --timings: only the sentence on the full run's minutes")
    res.add_argument("--probes", action="store_true", help="notebook 04's probe and fine-tuning rows as Markdown")
    res.add_argument("--calibration", action="store_true", help="every calibrated SI-5 row: NLL, ECE and Brier score "
                     "of its own and of its calibrated probabilities, as Markdown (with a PATTERN: every row with "
                     "probabilities it matches)")
    res.add_argument("--verify", action="store_true", help="recompute every run from its predictions and check "
                     "its numbers and folds (exit 1 naming the first run that differs)")
    res.add_argument("--gaps", action="store_true", help="list the rows that lack a field of the results "
                     "contract (dirty, f1, configuration, encoder hash): rows written before the field existed")
    res.add_argument("--readme", action="store_true", help="rewrite the generated tables of README.md, "
                     "results/README.md and docs/ from the real run's rows in results/")
    res.epilog = ("Examples: python -m emolib results; python -m emolib results 'moco_*'; "
                  "python -m emolib results --all --protocol si5; python -m emolib results --verify")
    res.set_defaults(func=run)


def run(args) -> int:
    from ..evaluation import tables
    from ..evaluation.results import provenance_gaps, verify_results

    folder = env.run_dir(env.RESULTS, args.corpus, args.profile)  # where this corpus and profile's rows are
    where = env.repo_relative(folder)
    if args.timings:
        print(tables.minutes_sentence(folder) if args.total else tables.timings_markdown(folder))
    elif args.headline:
        print(tables.headline_markdown(tables.headline(folder)))
    elif args.probes:
        print(tables.probes_markdown(folder))
    elif args.calibration:
        print(tables.calibration_markdown(tables.calibration_table(folder, args.pattern)))
    elif args.readme:
        from ..app import pages

        changed = pages.update()
        print("regenerated " + ", ".join(changed) if changed else "generated pages up to date")
    elif args.gaps:
        gaps = provenance_gaps(folder)
        print(gaps.to_string(index=False) if len(gaps) else "none")
        print(f"{len(gaps)} rows in {where}/ lack a field of docs/results.md's contract "
              "(written before it existed; they gain it when their study runs again)")
    elif args.verify:
        try:
            n = verify_results(folder)
        except AssertionError as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        print(f"OK: {n} runs in {where}/ recompute from their predictions")
    elif args.markdown:
        print(tables.markdown_table(tables.results_table(folder, pattern=args.pattern)))
    elif args.all or args.pattern:
        table = tables.results_table(folder, pattern=args.pattern)
        if table.run.notna().sum() == 0:
            print(f"no runs match {args.pattern!r} in {where}/" if args.pattern else
                  f"no runs yet in {where}/: python -m emolib reproduce")
            return 0
        print(tables.text(table, args.protocol, args.sort))
    else:
        print(tables.overview(folder))
    return 0
