"""Command line: ``python -m emolib <command> …`` (also installed as ``emolib``).

    data info [--root PATH] [--corpus emodb|synthetic]   counts by emotion, speaker, gender
    data verify [--root PATH]                            check all 535 files against the manifest
    data download [--dest PATH]                          download, verify and install EmoDB
    reproduce [--profile smoke|full|extended] [--only NN]  execute the numbered notebooks in order
    pretrain [--fold K|all] [--arch …] [--epochs N] …    MoCo v3 on an SI-5 fold (torchrun-able)
    probe --out DIR… --run NAME [--blocks N] …          linear probes of a folder (or several) of fold encoders
    finetune --out DIR --run NAME [--epochs N] …        fine-tune a folder of fold encoders (one row)
    ablation [--variants …] [--device …] [--table]       the pretext ablation (ssl_<variant> rows)
    emobox [--systems …] [--device …] [--table]          the systems on EmoBox's (speaker-dependent) folds
    fusion [--systems …] [--protocol si5|emobox]         the best system: stacked fusion, nested per fold
    train-final [--model NAME|best] [--speaker-norm]     train a system on all ten speakers, for predict
    predict FILE… [--model …] [--json] [--per-window]    the emotion of any recording
    bench features [--root PATH]                         first vs second pass over the feature cache
    bench augment [--root PATH] [--n N]                  two-view pairs/s: the report's pipeline vs ours
    bench pretrain [--root PATH] [--n N]                 pretraining samples/s: the report's vs ours; peak memory
    bench predict [--root PATH] [--model …]              predict on every corpus file: seconds, 1 vs N jobs
    results [--protocol …] [--verify] [--gaps]           the table of all evaluated runs (--timings: run times)

Problems with the input (``EmolibError``) are printed as one line, without a traceback,
and exit with status 2.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import commands, config
from .errors import EmolibError


DEVICE_HELP = "cpu, cuda, cuda:1 … for every torch training it runs (default: EMOLIB_DEVICE, else the GPU when there is one)"


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _common(parser: argparse.ArgumentParser, device: str | None = None, quiet: bool = False) -> None:
    """The options every training command shares: where and on what it runs."""
    if device:
        parser.add_argument("--device", help=device)
    parser.add_argument("--profile", choices=config.PROFILES, help="default: EMOLIB_PROFILE or full")
    parser.add_argument("--corpus", choices=config.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    parser.add_argument("--root", help="corpus folder (default: EMODB_ROOT, then the cache)")
    if quiet:
        parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emolib", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="inspect, verify or download the corpus")
    dsub = data.add_subparsers(dest="action", required=True)
    info = dsub.add_parser("info", help="counts by emotion, speaker and gender; total duration")
    info.add_argument("--root", help="corpus folder (default: EMODB_ROOT, then the cache)")
    info.add_argument("--corpus", choices=config.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    info.epilog = "Examples: python -m emolib data info; python -m emolib data info --corpus synthetic"
    info.set_defaults(func=commands.data_info)
    ver = dsub.add_parser("verify", help="check every WAV against the SHA-256 manifest")
    ver.add_argument("--root", help="corpus folder (default: EMODB_ROOT, then the cache)")
    ver.epilog = "Example: python -m emolib data verify --root ~/data/emodb"
    ver.set_defaults(func=commands.data_verify)
    dl = dsub.add_parser("download", help="download, verify and install EmoDB")
    dl.add_argument("--dest", help="target folder (default: the per-user cache)")
    dl.epilog = "Examples: python -m emolib data download; python -m emolib data download --dest ~/data/emodb"
    dl.set_defaults(func=commands.data_download)

    rep = sub.add_parser("reproduce", help="execute the numbered notebooks in order, in place",
                         description="Each notebook's wall time is printed and kept in results/timings.json "
                         "(results/<corpus>-<profile>/ off the real EmoDB run). full: the long studies "
                         "(emolib.settings.LONG_STUDIES) are read from their committed rows; extended re-runs them. "
                         "Examples: python -m emolib reproduce; "
                         "python -m emolib reproduce --only 06; python -m emolib reproduce --from 04 --profile smoke")
    rep.add_argument("--profile", choices=config.PROFILES, help="default: EMOLIB_PROFILE or full")
    rep.add_argument("--corpus", choices=config.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    part = rep.add_mutually_exclusive_group()
    part.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks (number or name)")
    part.add_argument("--from", dest="start", metavar="NN", help="run this notebook and those after it")
    rep.add_argument("--device", help="where the notebooks pretrain: auto (default: the GPU when there is one), cpu, "
                     "cuda or cuda:N (sets EMOLIB_DEVICE for their kernels)")
    rep.set_defaults(func=commands.reproduce)

    res = sub.add_parser("results", help="print the table of evaluated runs (results/)")
    res.add_argument("--profile", choices=config.PROFILES, help="default: EMOLIB_PROFILE or full")
    res.add_argument("--corpus", choices=config.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    res.add_argument("--markdown", action="store_true", help="a Markdown table with every column (for the README)")
    res.add_argument("--protocol", choices=["si5", "emobox", "leaky"],
                     help="only speaker-independent runs (si5: SI-5, LOSO), only the runs on EmoBox's "
                     "speaker-dependent folds, or only the leaky random-split runs and the report's quoted numbers")
    res.add_argument("--timings", action="store_true", help="the run-time table of reproduce (results/timings.json) "
                     "as Markdown, as in the README")
    res.add_argument("--probes", action="store_true", help="notebook 04's probe and fine-tuning rows as the "
                     "README's Markdown table")
    res.add_argument("--verify", action="store_true", help="recompute every run from its predictions and check "
                     "its numbers and folds (exit 1 naming the first run that differs)")
    res.add_argument("--gaps", action="store_true", help="list the rows that lack a field of the results "
                     "contract (dirty, f1, configuration, encoder hash): rows written before the field existed")
    res.add_argument("--readme", action="store_true", help="rewrite the README's generated tables (timings, "
                     "results, probes, the pretext ablation's) from the real run's rows in results/")
    res.add_argument("--sort", choices=["uar", "wa", "run"], default="uar",
                     help="order within each protocol: best UAR (default) or WA first, or by run name")
    res.epilog = "Examples: python -m emolib results --protocol si5 --sort uar; python -m emolib results --verify"
    res.set_defaults(func=commands.results)

    pre = sub.add_parser("pretrain", help="MoCo v3 pretraining on the training speakers of SI-5 folds",
                         description="MoCo v3 on log-mel ViTs. Flags named as in the official main_moco.py "
                         "mean the same; unset flags take the profile's budget (emolib.settings.PRETRAIN). "
                         "Runs on the CPU, a GPU, or under torchrun --nproc_per_node=N -m emolib pretrain …")
    pre.add_argument("--fold", default="all", help="fold 0-4 of the protocol (0-9 for loso), or all (default)")
    pre.add_argument("--variant", metavar="NAME",
                     help="a named set of pretext options (emolib.pretext.VARIANTS; the flags below change single "
                     "ones): default the default encoder's (emolib.settings.DEFAULT_PRETEXT, notebook 03's); "
                     "report: the report's recipe")
    pre.add_argument("--protocol", choices=["si5", "loso", "emobox"],
                     help="whose folds to pretrain on: si5 (default, speaker-independent), loso, or emobox "
                     "(EmoBox's speaker-dependent folds; encoders go to checkpoints/emobox/<variant> by default, the "
                     "report's recipe to checkpoints/emobox, where python -m emolib emobox reads it)")
    _common(pre, device=DEVICE_HELP)
    pre.add_argument("--out", help="output folder (default: checkpoints/<variant>, checkpoints/ itself for "
                     "--variant report; per corpus and profile)")
    pre.add_argument("--resume", nargs="?", const="auto", metavar="PATH",
                     help="resume from PATH, or alone: from each fold's checkpoint.pt where there is one")
    pre.add_argument("--init-from", metavar="PATH", help="start from an official MoCo v3 ViT checkpoint")
    pre.add_argument("-a", "--arch", choices=["vit_tiny", "vit_small", "vit_base"])
    pre.add_argument("--depth", type=int, help="transformer blocks")
    pre.add_argument("--patch-size", type=int)
    pre.add_argument("--frames", type=int, help="crop length in 10 ms frames (a multiple of the patch size)")
    pre.add_argument("--epochs", type=int)
    pre.add_argument("-b", "--batch-size", type=int, help="global batch over all processes")
    pre.add_argument("--lr", type=float, help="base learning rate; the lr is lr * batch-size / 256")
    pre.add_argument("--wd", "--weight-decay", dest="weight_decay", type=float)
    pre.add_argument("--warmup-epochs", type=float)
    pre.add_argument("--optimizer", choices=["adamw", "lars"])
    pre.add_argument("--moco-dim", type=int)
    pre.add_argument("--moco-mlp-dim", type=int)
    pre.add_argument("--moco-m", type=float)
    pre.add_argument("--moco-m-cos", action=argparse.BooleanOptionalAction, default=None)
    pre.add_argument("--moco-t", type=float)
    pre.add_argument("--stop-grad-conv1", action=argparse.BooleanOptionalAction, default=None)
    pre.add_argument("--aug", help="two-view recipe (emolib.views.RECIPES)")
    pre.add_argument("--variants", type=int, help="precomputed report variants per view")
    pre.add_argument("--seed", type=int)
    pre.add_argument("--save-every", type=int, help="checkpoint every N epochs (and at the end)")
    pre.add_argument("--keep-epochs", type=int, nargs="*", help="export the backbone after these epochs")
    pre.add_argument("--knn-every", type=int, help="k-NN monitor every N epochs (and at the end)")
    pre.add_argument("--knn-k", type=int)
    pre.add_argument("--spike-factor", type=float, help="stop when the loss exceeds this times its running "
                     "average (0: only on non-finite loss)")
    pre.add_argument("--batch-by", choices=["none", "speaker", "gender"],
                     help="speaker / gender: every batch holds one training speaker (gender) only, so the "
                     "negatives share the voice (default none: mixed)")
    pre.add_argument("--input-norm", choices=["global", "speaker", "utterance", "shape"],  # pretext.INPUT_NORM (torch-free here)
                     help="log-mel statistics: the fold's training speakers (global, default), each "
                     "utterance's own speaker (its probes are then speaker-normalised rows), or each file "
                     "centred on its own mean per band first (utterance; raw rows), or only the shape of its "
                     "long-term spectrum beyond a straight line removed (shape: level and tilt kept; raw rows)")
    pre.add_argument("--warp", type=float, metavar="MAX",
                     help="random vocal-tract-length warp of the mel axis, factor in [1-MAX, 1+MAX] (e.g. 0.15)")
    pre.add_argument("--formant", type=float, metavar="MAX",
                     help="warp the spectral envelope alone (formants move, pitch stays), factor in [1-MAX, 1+MAX]")
    pre.add_argument("--pitch", type=float, metavar="MAX",
                     help="warp the harmonic fine structure alone (pitch moves, formants stay), factor in [1-MAX, 1+MAX]")
    pre.add_argument("--warp-views", choices=["both", "one"],
                     help="the warps above on each view (both) or on view 2 only")
    pre.add_argument("--adversary", type=float, metavar="WEIGHT",
                     help="gradient-reversed speaker head on the training speakers, with this weight (0: off)")
    pre.epilog = ("Examples: python -m emolib pretrain --fold 0 --epochs 40; python -m emolib pretrain --variant report "
                  "--batch-by speaker --warp 0.15 --out checkpoints/warp; torchrun --nproc_per_node=2 -m emolib pretrain --device cuda")
    pre.set_defaults(func=commands.pretrain)

    prb = sub.add_parser("probe", help="linear probes (SI-5, with and without speaker normalisation) of the "
                         "five fold encoders in a pretraining output folder; writes results rows")
    prb.add_argument("--out", required=True, nargs="+", metavar="DIR",
                     help="the folder python -m emolib pretrain --out wrote (several: their embeddings side by side)")
    prb.add_argument("--run", required=True, help="results name: writes results/<run>.json and <run>_spknorm.json")
    prb.add_argument("--epoch", type=int, help="a kept epoch's backbones (default: the final ones)")
    prb.add_argument("--pool", choices=["cls", "mean"], default="cls", help="read-out (default cls)")
    prb.add_argument("--blocks", type=int, default=1, help="concatenate the read-out of the last N blocks")
    prb.add_argument("--curve", action="store_true",
                     help="with several --out: also probe the first k folders for every k (in the order given), "
                          "and k random-weight ViTs of the same shape, into results/<run>_curve.csv")
    _common(prb, device=DEVICE_HELP)
    prb.epilog = ("Examples: python -m emolib probe --out checkpoints/warp --run moco_warp_probe_logreg --blocks 4; "
                  "two pretraining seeds side by side: python -m emolib probe --out checkpoints/ablation/warp_cpu "
                  "checkpoints/ablation/warp_cpu_seed1 --run ssl_warp_cpu_seeds01 (add --curve for the probe against "
                  "the number of folders)")
    prb.set_defaults(func=commands.probe)

    fin = sub.add_parser("finetune", help="fine-tune the five fold encoders of a pretraining output folder end to "
                         "end (SI-5, notebook 04's recipe and budget); writes one results row")
    fin.add_argument("--out", required=True, help="the folder python -m emolib pretrain --out wrote")
    fin.add_argument("--run", required=True, help="results name: writes results/<run>.json")
    fin.add_argument("--epochs", type=_positive, help="default: the profile's (emolib.settings.FINETUNE)")
    fin.add_argument("--seed", type=int, help="default 0")
    _common(fin, device=DEVICE_HELP, quiet=True)
    fin.epilog = ("Example: python -m emolib finetune --out checkpoints/ablation/warp_speaker_input_e300_cpu "
                  "--run moco_warp_speaker_input_e300_cpu_finetune --device cpu (per-speaker-input encoders give "
                  "a speaker-normalised row)")
    fin.set_defaults(func=commands.finetune)

    abl = sub.add_parser("ablation", help="the pretext ablation: pretrain, probe and measure each variant "
                         "(writes results rows ssl_<variant> and ssl_<variant>_spknorm)",
                         description="Each variant is the profile's pretraining budget with some pretext options "
                         "changed (emolib.ablation.VARIANTS); all five SI-5 folds are pretrained (resumable), "
                         "probed and measured. Examples: python -m emolib ablation --variants report warp "
                         "--device cuda; at another budget: python -m emolib ablation --variants warp -a vit_small "
                         "--depth 12 --epochs 150 --lr 1e-3 --warmup-epochs 10 --knn-every 25 --tag vits12_e150")
    abl.add_argument("--variants", nargs="+", metavar="NAME", help="default: all of emolib.ablation.VARIANTS")
    abl.add_argument("--out", help="encoders folder (default: checkpoints/ablation, per corpus and profile)")
    _common(abl, device=DEVICE_HELP, quiet=True)
    abl.add_argument("--table", action="store_true", help="print the rows already in results/ as a Markdown table "
                     "(no training)")
    abl.add_argument("--seeds", nargs="*", type=int, metavar="S", help="with --table: mean ± sd over the seeds S "
                     "(none given: every seed with rows; seed 0 untagged, seed S tagged seedS; with --tag T: seed 0 "
                     "tagged T, seed S tagged T_seedS)")
    abl.add_argument("--tag", help="with a budget other than the profile's: rows ssl_<variant>_TAG (e.g. vits12_e150)")
    abl.add_argument("-a", "--arch", choices=["vit_tiny", "vit_small", "vit_base"])
    abl.add_argument("--depth", type=int)
    abl.add_argument("--epochs", type=int)
    abl.add_argument("--lr", type=float, help="base learning rate (lr * batch / 256)")
    abl.add_argument("--warmup-epochs", type=float)
    abl.add_argument("--knn-every", type=int)
    abl.add_argument("--seed", type=int, help="another seed of the same budget (with --tag, e.g. --seed 1 --tag seed1)")
    abl.set_defaults(func=commands.ablation)

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
    _common(box, device=DEVICE_HELP, quiet=True)
    box.set_defaults(func=commands.emobox)

    fus = sub.add_parser("fusion", help="the best system: stacked fusion of the openSMILE, MoCo v3 and Conv1D "
                         "systems, nested inside each fold (rows fusion_<systems>[_spknorm])",
                         description="Each base system's class probabilities come from the protocol's other folds "
                         "inside each fold's training rows, so no test speaker reaches the stacker. Rows for all "
                         "systems and for each leave-one-out subset, without and with speaker normalisation. "
                         "Examples: python -m emolib fusion; python -m emolib fusion --systems compare egemaps moco "
                         "--protocol emobox")
    fus.add_argument("--systems", nargs="+", metavar="NAME", help="two or more of compare, egemaps, moco, cnn "
                     "(default: all)")
    fus.add_argument("--protocol", choices=["si5", "emobox"], default="si5",
                     help="si5 (default) or EmoBox's speaker-dependent folds (rows end in _emobox)")
    fus.add_argument("--table", action="store_true", help="print the fusion rows already in results/ as a Markdown "
                     "table (no training)")
    fus.add_argument("--encoders", help="the MoCo fold encoders (default: checkpoints/, or checkpoints/emobox)")
    _common(fus, device=DEVICE_HELP, quiet=True)
    fus.set_defaults(func=commands.fusion)

    model_help = ("a results system: best (default: the highest SI-5 UAR of the single systems and the fusion of "
                  "all four), baseline_compare_logreg, baseline_egemaps_logreg, cnn_si5_whole, moco_probe_logreg "
                  "or fusion_<systems>")
    fin = sub.add_parser("train-final", help="train a results system on all ten speakers (for predict), into "
                         "checkpoints/final", description="The same recipe as the system's SI-5 row, fitted on "
                         "every speaker; a fusion's stacker on out-of-fold probabilities of the SI-5 folds. "
                         "Examples: python -m emolib train-final; python -m emolib train-final --model "
                         "fusion_compare_egemaps_moco_cnn --speaker-norm")
    fin.add_argument("--model", default="best", help=model_help)
    fin.add_argument("--speaker-norm", action="store_true", help="the speaker-normalised variant (_spknorm)")
    fin.add_argument("--encoders", help="a fusion with moco: the SI-5 fold encoders (default: checkpoints/)")
    _common(fin, device=DEVICE_HELP, quiet=True)
    fin.set_defaults(func=commands.train_final)

    prd = sub.add_parser("predict", help="the emotion of any recording, from a system trained by train-final",
                         description="Any sample rate (resampled to 16 kHz), stereo (mixed down), WAV/FLAC/OGG "
                         "(MP3 where soundfile reads it). Files up to 10 s are scored whole, longer ones in 3-s "
                         "windows every 1.5 s. Examples: python -m emolib predict my.wav; python -m emolib predict "
                         "talk.flac --per-window --json; python -m emolib predict speaker1/*.wav --speaker-norm")
    prd.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    prd.add_argument("--model", default="best", help=model_help)
    prd.add_argument("--speaker-norm", action="store_true", help="use the speaker-normalised system: every file "
                     "given in this one call must be the same speaker's (at least 10 recordings or windows); "
                     "their statistics stand for the speaker's")
    prd.add_argument("--per-window", action="store_true", help="also the emotion of every 3-s window (over time)")
    prd.add_argument("--json", action="store_true", help="JSON instead of a table")
    prd.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="feature processes (default: all cores)")
    prd.add_argument("--profile", choices=config.PROFILES, help="whose trained model (default: EMOLIB_PROFILE or full)")
    prd.add_argument("--corpus", choices=config.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    prd.set_defaults(func=commands.predict)

    bench = sub.add_parser("bench", help="speed benchmarks, reported as ratios")
    bench.add_argument("name", choices=["features", "augment", "pretrain", "predict"])
    bench.add_argument("--model", default="best", help="predict: " + model_help)
    bench.add_argument("--speaker-norm", action="store_true", help="predict: the speaker-normalised variant")
    bench.add_argument("--profile", choices=config.PROFILES, help="predict: whose trained model")
    bench.add_argument("--root", help="corpus folder (default: EMODB_ROOT, then the cache)")
    bench.add_argument("--corpus", choices=config.CORPORA, help="default: EMOLIB_CORPUS or emodb")
    bench.add_argument("--n", type=int, default=64, help="augment: utterances to use (default 64)")
    bench.add_argument("--seconds", type=float, default=3.0,
                       help="augment, pretrain: how long to time our pipeline (default 3 s)")
    bench.add_argument("--report-steps", type=int, default=4,
                       help="pretrain: steps of 8 samples to time the report's pipeline (default 4)")
    bench.epilog = ("Examples: python -m emolib bench features; python -m emolib bench pretrain; "
                    "python -m emolib bench predict --speaker-norm")
    bench.set_defaults(func=commands.bench)
    return p


def main(argv: list[str] | None = None) -> int:
    import signal

    if hasattr(signal, "SIGPIPE"):  # `python -m emolib results | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "device", None):  # checked before any work; then every torch training of this process uses it
            from .devices import resolve

            resolve(args.device)
            os.environ["EMOLIB_DEVICE"] = args.device
        return args.func(args)
    except EmolibError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
