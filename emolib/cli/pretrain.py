"""``python -m emolib pretrain``: MoCo v3 on the training speakers of a protocol's folds, on the CPU, a GPU
or under ``torchrun`` (:func:`emolib.ssl.pretrain.launch`).  Flags carry the names of
:class:`emolib.ssl.pretrain_config.PretrainConfig`'s fields (those of the official ``main_moco.py`` where
they mean the same); the run gets a ``PretrainConfig``, never these options."""
from __future__ import annotations

import argparse

from ..core import budgets
from ..models.archs import ARCHS, CNNS
from ..ssl.shortcut import BATCH_BY, INPUT_NORM, OBJECTIVES, TARGETS
from .options import common


def add_to(sub) -> None:
    pre = sub.add_parser("pretrain", help="MoCo v3 pretraining on the training speakers of SI-5 folds",
                         description="MoCo v3 on log-mel ViTs. Flags named as in the official main_moco.py "
                         "mean the same; unset flags take the profile's budget (emolib.core.budgets.PRETRAIN). "
                         "Runs on the CPU, a GPU, or under torchrun --nproc_per_node=N -m emolib pretrain …")
    pre.add_argument("--fold", default="all", help="fold 0-4 of the protocol (0-9 for loso), or all (default)")
    pre.add_argument("--variant", metavar="NAME",
                     help="a named set of pretext options (emolib.ssl.shortcut.VARIANTS; the flags below change single "
                     "ones): default the default encoder's (emolib.core.budgets.DEFAULT_PRETEXT, notebook 03's); "
                     "report: the report's recipe")
    pre.add_argument("--protocol", choices=["si5", "loso", "emobox"],
                     help="whose folds to pretrain on: si5 (default, speaker-independent), loso, or emobox "
                     "(EmoBox's speaker-dependent folds; encoders go to checkpoints/emobox/<variant> by default, the "
                     "report's recipe to checkpoints/emobox, where python -m emolib emobox reads it)")
    common(pre, device=True)
    pre.add_argument("--out", help="output folder (default: checkpoints/<variant>, checkpoints/ itself for "
                     "--variant report; per corpus and profile)")
    pre.add_argument("--resume", nargs="?", const="auto", metavar="PATH",
                     help="resume from PATH, or alone: from each fold's checkpoint.pt where there is one")
    pre.add_argument("--init-from", metavar="PATH", help="start from an official MoCo v3 ViT checkpoint")
    pre.add_argument("-a", "--arch", choices=list(ARCHS),
                     help="a ViT (vit_tiny, vit_small, vit_base) or a small timm ResNet (resnet10t, resnet10t_half: "
                          "MoCo v3's ResNet form, for small data)")
    pre.add_argument("--objective", choices=list(OBJECTIVES),
                     help="moco (default): contrastive; masked: predict hidden log-mel patches of view 1 (SimMIM); "
                          "both: their sum (ViTs only); none: only --targets")
    pre.add_argument("--targets", choices=list(TARGETS),
                     help="functionals: also regress each utterance's 88 eGeMAPS functionals (standardised per "
                          "training speaker) from both views' embeddings; frames: its 25 eGeMAPS frame descriptors "
                          "(F0 with voicing, loudness, HNR, slopes, MFCC 1-4…) from the encoder's time steps on a clean "
                          "crop; both; none (default)")
    pre.add_argument("--targets-weight", type=float, help="weight of each such regression beside the objective (default 1)")
    pre.add_argument("--mask-ratio", type=float, help="share of patches the masked objective hides (default 0.6)")
    pre.add_argument("--masked-weight", type=float, help="weight of the masked loss with --objective both (default 1)")
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
    pre.add_argument("--aug", help="two-view recipe (emolib.augmentation.views.RECIPES)")
    pre.add_argument("--variants", type=int, help="precomputed report variants per view")
    pre.add_argument("--seed", type=int)
    pre.add_argument("--save-every", type=int, help="checkpoint every N epochs (and at the end)")
    pre.add_argument("--keep-epochs", type=int, nargs="*", help="export the backbone after these epochs")
    pre.add_argument("--knn-every", type=int, help="k-NN monitor every N epochs (and at the end)")
    pre.add_argument("--knn-k", type=int)
    pre.add_argument("--spike-factor", type=float, help="stop when the loss exceeds this times its running "
                     "average (0: only on non-finite loss)")
    pre.add_argument("--batch-by", choices=BATCH_BY,
                     help="speaker / gender: every batch holds one training speaker (gender) only, so the "
                     "negatives share the voice (default none: mixed)")
    pre.add_argument("--input-norm", choices=INPUT_NORM,
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
    pre.set_defaults(func=run)


#: The flags that set a :class:`~emolib.ssl.pretrain_config.PretrainConfig` field of the same name (unset: the
#: profile's budget and the variant's options).
CONFIG_FLAGS = ("arch", "depth", "patch_size", "frames", "epochs", "batch_size", "lr", "weight_decay", "warmup_epochs",
                "optimizer", "moco_dim", "moco_mlp_dim", "moco_m", "moco_m_cos", "moco_t", "stop_grad_conv1", "aug",
                "variants", "seed", "save_every", "keep_epochs", "knn_every", "knn_k", "spike_factor", "batch_by",
                "input_norm", "warp", "formant", "pitch", "warp_views", "adversary", "protocol", "objective", "mask_ratio",
                "masked_weight", "targets", "targets_weight")


def run(args) -> int:
    from ..ssl.pretrain import launch
    from ..ssl.pretrain_config import parse_fold, profile_config

    cfg = profile_config(args.profile, args.variant or budgets.DEFAULT_PRETEXT,
                         **{name: getattr(args, name) for name in CONFIG_FLAGS})
    folds = parse_fold(args.fold, cfg.protocol)  # every argument is checked before the corpus is read
    from ..core.errors import EmolibError

    if args.resume not in (None, "auto") and len(folds) > 1:
        raise EmolibError("--resume PATH names one fold's checkpoint; with --fold all use --resume alone")
    if args.init_from and cfg.arch in CNNS:
        raise EmolibError(f"--init-from {args.init_from}: official MoCo v3 checkpoints are ViTs; --arch {cfg.arch} is a CNN")
    launch(cfg, folds, args.out, corpus=args.corpus, root=args.root, resume=args.resume, init_from=args.init_from,
           device=args.device, profile=args.profile)
    return 0
