"""Linear probing and fine-tuning of the pretrained encoders, under SI-5 (docs/protocol.md).

Each SI-5 fold has its own encoder, pretrained on that fold's 8 training speakers
(:mod:`emolib.pretrain`), so every number here is computed per fold with that fold's encoder:

- :func:`load_encoder` — a fold's exported backbone (final or a kept epoch) as a frozen plain
  ``timm`` ViT, in one call; a missing or mismatched file is an error naming it and the fold.
- :func:`fold_embeddings` — one utterance embedding per utterance and fold
  (:func:`emolib.vit.embed`: windows over the whole utterance, pooled), cached on disk per
  checkpoint file content and setting.
- Probes on frozen features: :func:`logreg_probe` (multinomial logistic regression on
  standardised embeddings, its ``C`` chosen by cross-validation over the training speakers)
  and :func:`torch_probe` (a linear layer behind a non-affine BatchNorm, as in MoCo v3 / MAE
  linear probing).  :func:`probe_cv` runs one over the folds and returns the out-of-fold
  predictions that :func:`emolib.evaluation.write_result` stores.
- :func:`finetune_cv` — the ViT trained end to end with a linear head (layer-wise lr decay,
  random crops and SpecAugment), from a fold's pretrained weights or from random
  initialisation with the same budget.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import config, devices, settings, steps
from .augment import MelBank, RandomTimeCrop, SpecAugment
from .corpus import CLASSES
from .errors import EmolibError
from .evaluation import Timer, cross_validate, fit_by_speakers, write_result
from .features import FeatureCache, LogMelConfig, Standardizer, fit_standardizer, log_mels, speaker_standardize
from .files import atomic_write, sha256_file
from .pretext import OPTIONS as PRETEXT_OPTIONS, standardize_by_speaker
from .pretrain import PretrainConfig, fold_dir
from .splits import PROTOCOL_NAMES, SI5_FOLDS, folds as protocol_folds, speaker_folds
from .vit import BackboneConfig, create_backbone, embed, load_backbone, over_windows

N_FOLDS = len(SI5_FOLDS)


# --- loading -------------------------------------------------------------------------------

def backbone_path(out: str | os.PathLike, fold: int, epoch: int | None = None) -> Path:
    """``<out>/fold<k>/backbone`` (the final export) or ``backbone_e<epoch>`` (a kept epoch)."""
    name = "backbone" if epoch is None else f"backbone_e{epoch:04d}"
    return fold_dir(out, fold) / name


def encoder_config(out: str | os.PathLike, fold: int, epoch: int | None = None) -> tuple[Path, dict]:
    """The path and JSON config of fold ``fold``'s encoder, checked (present, written for this
    fold and epoch) without loading its weights.  Errors name the file and the fold, and say
    how to make it."""
    path = backbone_path(out, fold, epoch)
    which = "final" if epoch is None else f"epoch-{epoch}"
    if not path.with_suffix(".safetensors").is_file() or not path.with_suffix(".json").is_file():
        hint = (f"python -m emolib pretrain --fold {fold} --out {out}" if epoch is None else
                f"python -m emolib pretrain --fold {fold} --keep-epochs {epoch} --out {out}")
        raise EmolibError(f"fold {fold}: no {which} encoder at {path}.safetensors/.json; pretrain it first "
                          f"(notebook 03, or {hint})")
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except ValueError as e:
        raise EmolibError(f"fold {fold}: {path}.json is not valid JSON ({e}); export the encoder again") from None
    if meta.get("fold") != fold:
        raise EmolibError(f"{path}.json was pretrained for fold {meta.get('fold')}, not fold {fold}: its "
                          "training speakers include this fold's test speakers; use the file of fold "
                          f"{fold}")
    if epoch is not None and meta.get("epoch") != epoch:
        raise EmolibError(f"{path}.json says epoch {meta.get('epoch')}, not {epoch}")
    return path, meta


def load_encoder(out: str | os.PathLike, fold: int, epoch: int | None = None,
                 device="cpu") -> tuple[nn.Module, dict]:
    """The frozen encoder pretrained for SI-5 fold ``fold`` (eval mode, no gradients) and its
    JSON config (checked by :func:`encoder_config`)."""
    path, _ = encoder_config(out, fold, epoch)
    try:
        model, meta = load_backbone(path, device)
    except EmolibError as e:
        raise EmolibError(f"fold {fold}: {e}") from None
    model.requires_grad_(False)
    return model, meta


# --- utterance embeddings ------------------------------------------------------------------

def speaker_input(info: dict) -> bool:
    """Whether an encoder was pretrained on per-speaker standardised log-mels (``input_norm``
    ``"speaker"``): its embeddings use each speaker's own statistics, so every probe of it is a
    speaker-normalised row."""
    return info.get("pretrain", {}).get("input_norm", "global") == "speaker"


def fold_embeddings(meta: pd.DataFrame, out: str | os.PathLike, epoch: int | None = None,
                    pool: str = "cls", blocks: int = 1, folds: Sequence[int] = range(N_FOLDS),
                    device="cpu", progress: bool = True, cache: bool = True) -> dict[int, np.ndarray]:
    """``{fold: (n_utterances, dim)}``: every utterance of ``meta`` embedded by each fold's
    encoder (inputs standardised with that fold's training statistics, saved with it).

    ``pool`` and ``blocks`` as in :func:`emolib.vit.embed`.  Cached under the cache
    directory, keyed by the checkpoint's content (weights, and the config that holds the window
    length and statistics), ``pool``, ``blocks`` and the audio content of every utterance, so a
    retrained encoder or a changed corpus is never served stale vectors."""
    audio = FeatureCache(LogMelConfig())
    corpus_key = hashlib.sha256("".join(audio.digest(p) for p in meta.path).encode()).hexdigest()
    audio.flush()
    mels, result = None, {}
    for k in folds:
        path, info = encoder_config(out, k, epoch)  # the weights are loaded only on a cache miss
        key = hashlib.sha256(json.dumps([sha256_file(path.with_suffix(".safetensors")),
                                         sha256_file(path.with_suffix(".json")),
                                         pool, blocks, corpus_key, 1]).encode()).hexdigest()[:32]
        file = config.cache_dir() / "embeddings" / f"{key}.npy"
        if cache and file.is_file():
            try:
                result[k] = np.load(file)
                if result[k].shape[0] == len(meta):
                    continue
            except (OSError, ValueError):
                pass  # damaged: computed again and rewritten
        model, _ = load_encoder(out, k, epoch, device)
        if mels is None:
            mels = log_mels(meta.path, progress=progress)
        mean, std = np.array(info["normalization"]["mean"]), np.array(info["normalization"]["std"])
        inputs = mels
        if speaker_input(info):  # each speaker (held-out ones too) with its own audio's statistics
            inputs = standardize_by_speaker(mels, meta.speaker.astype(str).to_numpy())
            mean, std = np.zeros_like(mean), np.ones_like(std)
        X = embed(model, inputs, mean, std, info["backbone"]["frames"],
                  pool=pool, blocks=blocks, device=device, progress=progress)
        if cache:
            buf = io.BytesIO()
            np.save(buf, X)
            atomic_write(file, buf.getvalue())
        result[k] = X
    return result


def random_embeddings(meta: pd.DataFrame, cfg: BackboneConfig, seed: int = 0, pool: str = "cls",
                      blocks: int = 1, progress: bool = False) -> dict[int, np.ndarray]:
    """The same embeddings from a randomly initialised ViT of the same shape (``seed``), with
    each fold's own input statistics: the floor that pretraining has to beat."""
    mels = log_mels(meta.path, progress=progress)
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left alone
        torch.manual_seed(seed)
        model = create_backbone(cfg)
    out = {}
    for f in speaker_folds(meta, "si5"):
        std = fit_standardizer(mels, f)
        out[f.index] = embed(model, mels, std.mean, std.std, cfg.frames, pool=pool, blocks=blocks)
    return out


# --- linear probes on frozen features --------------------------------------------------------

def logreg_model(seed: int = 0):
    """The probe's model: standardised features, multinomial logistic regression with balanced
    class weights (its ``C`` is the parameter ``logisticregression__C``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced",
                                                              random_state=seed))


def logreg_probe(C: float | Sequence[float] = settings.LOGREG_C, seed: int = 0):
    """``fit_predict(X_train, y_train, X_test, groups)``: :func:`logreg_model`.  With several ``C``
    the one with the best UAR in leave-speakers-out cross-validation *within the training speakers*
    (4 groups) is used (:func:`emolib.evaluation.fit_by_speakers`): the held-out speakers never
    choose it."""
    grid = [C] if np.isscalar(C) else list(C)

    def fit_predict(X_train, y_train, X_test, groups=None):
        return fit_by_speakers(logreg_model(seed), "logisticregression__C", grid, X_train, y_train,
                               groups).predict(X_test)

    return fit_predict


def budget(profile: str | None = None) -> dict:
    """Notebook 04's probe and batch-size-study budget (:data:`emolib.settings.PROBE`)."""
    return settings.budget(settings.PROBE, profile)


def class_weights(y: torch.Tensor) -> torch.Tensor:
    """Balanced cross-entropy weights ``n / (n_classes · count)`` for class indices ``y`` (0 for
    a class absent from ``y``): every emotion counts equally, as in UAR."""
    counts = torch.bincount(y, minlength=len(CLASSES)).float()
    return torch.where(counts > 0, len(y) / (len(CLASSES) * counts.clamp(min=1)), torch.zeros(()))


@dataclass
class HeadConfig:
    """The torch linear probe: ``BatchNorm1d(affine=False) -> Linear``, AdamW, cosine lr."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-2
    weight_decay: float = 1e-3
    seed: int = 0


def torch_probe(cfg: HeadConfig = HeadConfig(), device: str | None = None):
    """``fit_predict(X_train, y_train, X_test, groups)`` training a linear layer behind a
    non-affine BatchNorm (the MoCo v3 / MAE linear-probe head) on frozen features, with a
    class-balanced cross-entropy.  Seeded (the initial weights and batch order are drawn on the
    CPU); the caller's torch random state is left alone.  ``device``: :func:`emolib.devices.resolve`."""

    def fit_predict(X_train, y_train, X_test, groups=None):
        dev = devices.resolve(device)
        labels = {c: i for i, c in enumerate(CLASSES)}
        y = torch.tensor([labels[v] for v in y_train])
        weight = class_weights(y).to(dev)
        y, X = y.to(dev), torch.as_tensor(np.asarray(X_train), dtype=torch.float32).to(dev)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            head = nn.Sequential(nn.BatchNorm1d(X.shape[1], affine=False), nn.Linear(X.shape[1], len(CLASSES)))
            nn.init.trunc_normal_(head[1].weight, std=0.01)
            nn.init.zeros_(head[1].bias)
            head.to(dev)
            opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            steps = cfg.epochs * math.ceil(len(X) / cfg.batch_size)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
            head.train()
            for _ in range(cfg.epochs):
                perm = torch.randperm(len(X)).to(dev)
                for i in range(0, len(X), cfg.batch_size):
                    b = perm[i:i + cfg.batch_size]
                    if len(b) < 2:
                        continue
                    loss = F.cross_entropy(head(X[b]), y[b], weight=weight)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
        head.eval()
        with torch.no_grad():
            pred = head(torch.as_tensor(np.asarray(X_test), dtype=torch.float32).to(dev)).argmax(1).cpu().numpy()
        return np.array(CLASSES)[pred]

    return fit_predict


def probe_cv(meta: pd.DataFrame, embeddings: dict[int, np.ndarray], fit_predict: Callable,
             speaker_norm: bool = False, folds: Sequence[int] | None = None,
             protocol: str = "si5") -> pd.DataFrame:
    """Out-of-fold predictions (``evaluation.PREDICTION_COLUMNS``) of a probe: fold k is
    probed on fold k's embeddings, fitted on its training speakers, predicted on its test
    speakers (all five folds, or ``folds``).  ``speaker_norm`` standardises each speaker's
    embeddings with that speaker's own (unlabelled) statistics first (docs/protocol.md: reported as
    its own row).  ``protocol``: the folds the encoders were pretrained on (``emobox`` for
    encoders of ``pretrain --protocol emobox``)."""
    speakers = meta.speaker.astype(str).to_numpy()
    X = {k: speaker_standardize(v, speakers) if speaker_norm else v for k, v in embeddings.items()}
    wanted = range(N_FOLDS) if folds is None else folds
    missing = [k for k in wanted if k not in X]
    if missing:
        raise EmolibError(f"no embeddings for {PROTOCOL_NAMES[protocol]} folds {missing}; embed every fold's encoder")
    return cross_validate(fit_predict, X, meta, protocol=protocol, groups=speakers, folds=folds)


def encoder_summary(out: str | os.PathLike, epoch: int | None = None) -> dict:
    """What a folder of fold encoders is, from fold 0's JSON: architecture, depth, pretraining
    epochs, batch size, view recipe, the folds' protocol and the device it was pretrained on (for
    results rows).  Every fold's encoder must come from the same protocol's folds."""
    configs = [encoder_config(out, k, epoch) for k in range(N_FOLDS)]
    info = configs[0][1]
    pre = info.get("pretrain", {})
    protocol = pre.get("protocol", "si5")
    for k, (_, other) in enumerate(configs):
        if other.get("pretrain", {}).get("protocol", "si5") != protocol:
            raise EmolibError(f"{out}: fold 0 was pretrained on {protocol} folds, fold {k} on "
                              f"{other['pretrain'].get('protocol', 'si5')}; pretrain every fold with one --protocol")
    return {"arch": info["backbone"]["arch"], "depth": info["backbone"]["depth"], "epochs": info.get("epoch"),
            "batch_size": pre.get("batch_size"), "aug": pre.get("aug"), "protocol": protocol,
            "device": info.get("device", "not recorded"),
            "pretext": {k: pre.get(k, d) for k, d in PRETEXT_DEFAULTS.items()}, "pretrain": pre,
            "sha256": [sha256_file(path.with_suffix(".safetensors")) for path, _ in configs]}


#: Notebook 04's rows in the README's table: (encoder and read-out, probe, run; ``<run>_spknorm`` beside it).
README_ROWS = [
    ("random-init ViT (same shape), class token", "logistic regression", "vit_random_probe_logreg"),
    ("MoCo v3, class token", "logistic regression (default)", "moco_probe_logreg"),
    ("MoCo v3, class token", "BatchNorm + linear (torch)", "moco_probe_torch"),
    ("MoCo v3, mean of patch tokens", "logistic regression", "moco_probe_logreg_mean"),
    ("MoCo v3, class tokens of the last 4 blocks", "logistic regression", "moco_probe_logreg_cls_last_blocks"),
    ("MoCo v3 after 150 epochs on a GPU, class token", "logistic regression", "moco_e150_probe_logreg"),
    ("MoCo v3 after 150 epochs on a GPU, class tokens of the last 4 blocks", "logistic regression",
     "moco_e150_probe_logreg_cls_last_blocks"),
    ("MoCo v3, fine-tuned end to end", "—", "moco_finetune"),
    ("same ViT from random init, same budget", "—", "vit_scratch"),
]


def readme_table(folder: str | os.PathLike | None = None) -> str:
    """Notebook 04's probe and fine-tuning rows (:data:`README_ROWS`) as the README's Markdown table:
    UAR without and with speaker normalisation, in %."""
    folder = Path(folder) if folder else config.run_dir(config.RESULTS)

    def uar(run: str, missing: str) -> str:
        path = folder / f"{run}.json"
        return f"{100 * json.loads(path.read_text())['uar']:.1f} %" if path.is_file() else missing

    lines = ["| encoder and read-out | probe | UAR | with speaker norm |", "|---|---|---|---|"]
    lines += [f"| {what} | {how} | {uar(run, '—')} | {uar(run + '_spknorm', '')} |" for what, how, run in README_ROWS]
    return "\n".join(lines)


#: The pretext options (emolib.pretext) and their defaults, for rows and method names.
PRETEXT_DEFAULTS = {k: v for k, v in PretrainConfig().to_dict().items() if k in PRETEXT_OPTIONS}


def describe_pretext(pretext: dict) -> str:
    """``"speaker batches, warp ±0.15"``-style words for the options that differ from the defaults."""
    words = []
    if pretext.get("batch_by", "none") != "none":
        words.append(f"{pretext['batch_by']} batches")
    if pretext.get("input_norm", "global") != "global":
        words.append(f"{pretext['input_norm']} input statistics")
    if pretext.get("warp"):
        words.append(f"mel warp ±{pretext['warp']:g}" + (" on one view" if pretext.get("warp_views") == "one" else ""))
    if pretext.get("adversary"):
        words.append(f"speaker adversary ×{pretext['adversary']:g}")
    return ", ".join(words)


def neighbour_scores(X: np.ndarray, meta: pd.DataFrame, k: int = 5, seed: int = 0) -> dict:
    """What an embedding space holds, by ``k``-NN over all utterances (standardised features,
    5-fold cross-validation stratified by the target): speaker accuracy (chance 1/10), emotion
    accuracy and emotion UAR (chance 1/7).  A diagnostic of the space, not an SI-5 result."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    from .evaluation import uar

    Z = StandardScaler().fit_transform(X)
    out = {}
    for target in ("speaker", "emotion"):
        y = meta[target].astype(str).to_numpy()
        pred = cross_val_predict(KNeighborsClassifier(k), Z, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed))
        out[f"{target}_acc"] = float((pred == y).mean())
        if target == "emotion":
            out["emotion_uar"] = uar(y, pred)
    return out


def probe_checkpoints(meta: pd.DataFrame, out: str | os.PathLike, run: str, *, epoch: int | None = None,
                      pool: str = "cls", blocks: int = 1, fit_predict: Callable | None = None,
                      profile: str | None = None, corpus: str | None = None,
                      progress: bool = True, extra: dict | None = None) -> list[dict]:
    """Probe the five fold encoders in ``out`` (logistic regression unless ``fit_predict``),
    without and with speaker normalisation, and write the results rows ``<run>`` and
    ``<run>_spknorm`` (``python -m emolib probe``); encoders pretrained on another protocol's
    folds give ``<run>_<protocol>`` and ``<run>_spknorm_<protocol>`` (e.g. ``_emobox``), so
    they never replace an SI-5 row.  The rows name the pretraining budget, its
    pretext options, the device it ran on and each fold encoder's SHA-256; the probe itself runs
    here, on the folds the encoders were pretrained on (SI-5, or EmoBox's for encoders of
    ``pretrain --protocol emobox``).  An encoder pretrained on per-speaker input statistics makes
    both rows speaker-normalised (``speaker_norm`` true).  ``extra``: more fields for both rows."""
    enc = encoder_summary(out, epoch)
    emb = fold_embeddings(meta, out, epoch, pool=pool, blocks=blocks, progress=progress)
    readout = pool if blocks == 1 else f"{pool} of the last {blocks} blocks"
    options = describe_pretext(enc["pretext"])
    method = (f"MoCo v3 {enc['arch']}/{enc['depth']}, {enc['epochs']} epochs, batch {enc['batch_size']}, "
              f"{enc['aug']} views{', ' + options if options else ''} ({enc['device']}), {readout}, linear probe")
    fit = fit_predict or logreg_probe(budget(profile)["logreg_C"])
    probe = ({"kind": "logreg", "C": list(budget(profile)["logreg_C"]), "seed": 0} if fit_predict is None
             else {"kind": getattr(fit_predict, "__qualname__", "custom")})
    spk_input = enc["pretext"]["input_norm"] == "speaker"
    rows = []
    for norm in (False, True):
        with Timer() as t:
            pred = probe_cv(meta, emb, fit, speaker_norm=norm, protocol=enc["protocol"])
        name = run + ("_spknorm" if norm else "") + ("" if enc["protocol"] == "si5" else f"_{enc['protocol']}")
        rows.append(write_result(name, pred, method=method,
                                 protocol=PROTOCOL_NAMES[enc["protocol"]],
                                 profile=config.profile(profile), corpus=config.corpus_name(corpus),
                                 speaker_norm=norm or spk_input, wall_s=t.seconds, encoders=config.repo_relative(out),
                                 encoder=enc, readout={"pool": pool, "blocks": blocks}, probe=probe,
                                 device="cpu" if fit_predict is None else None,
                                 **(extra or {})))
    return rows


def batch_size_study(meta: pd.DataFrame, cfg, sizes: Sequence[int], epochs: int, out: str | os.PathLike,
                     fit_predict: Callable, fold: int = 0, progress: bool = True) -> pd.DataFrame:
    """The report's batch-size question under SI-5, on one fold with a shorter budget: for each
    batch size, pretrain ``epochs`` epochs (lr scaled with the batch, warmup scaled with the
    budget) into ``<out>/bs<size>`` (resumable), then probe.  One row per batch size."""
    from dataclasses import replace

    from .evaluation import uar
    from .pretrain import pretrain_fold

    rows = []
    for size in sizes:
        c = replace(cfg, batch_size=size, epochs=epochs, warmup_epochs=cfg.warmup_epochs * epochs / cfg.epochs,
                    keep_epochs=(), knn_every=epochs, save_every=epochs)
        folder = Path(out) / f"bs{size}"
        history = pretrain_fold(meta, fold, c, folder, resume="auto", progress=progress)
        emb = fold_embeddings(meta, folder, folds=[fold], progress=False)
        pred = probe_cv(meta, emb, fit_predict, folds=[fold])
        rows.append({"batch_size": size, "fold": fold, "epochs": epochs, "steps": history[-1]["step"],
                     "final_loss": history[-1]["loss"], "uar": uar(pred.y_true, pred.y_pred),
                     "pretrain_s": history[-1]["wall_s"]})
    return pd.DataFrame(rows)


# --- fine-tuning ---------------------------------------------------------------------------

@dataclass
class FinetuneConfig:
    """End-to-end training of the ViT with a linear head on the class token."""

    epochs: int = 30
    crops_per_epoch: int = 2     # random crops of every training utterance per epoch
    batch_size: int = 32
    lr: float = 1e-3             # the head's lr (AdamW); blocks below get lr · layer_decay^depth
    layer_decay: float = 0.75
    weight_decay: float = 0.05
    warmup_epochs: float = 3
    label_smoothing: float = 0.1
    freq_mask: int = 8
    time_mask: int = 16
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "crops_per_epoch", "batch_size"):
            if getattr(self, name) < 1 or (name == "batch_size" and self.batch_size < 2):
                raise ValueError(f"FinetuneConfig.{name} must be at least {2 if name == 'batch_size' else 1}, "
                                 f"got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


def finetune_config(profile: str | None = None, **overrides) -> FinetuneConfig:
    """The profile's fine-tuning budget (:data:`emolib.settings.FINETUNE`) with ``overrides``."""
    return FinetuneConfig(**{**settings.budget(settings.FINETUNE, profile), **overrides})


class Classifier(nn.Module):
    """A ViT backbone and a linear head on its class token."""

    def __init__(self, backbone: nn.Module, n_classes: int = len(CLASSES)):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.num_features, n_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def _layer_groups(model: Classifier, cfg: FinetuneConfig) -> list[dict]:
    """Parameter groups with layer-wise lr decay (BEiT/MAE): the head at ``lr``, block ``i``
    of ``depth`` at ``lr · decay^(depth - i)``, the patch embedding at ``lr · decay^(depth + 1)``;
    no weight decay on biases, norms and the class token.

    Kept rather than ``timm.optim.param_groups_layer_decay``: timm groups the bare ViT, whose top
    layer is its final norm, and decays the class token unless told; with our separate head it would
    scale every block one step differently (checked: 147 parameters differ) and so change the
    fine-tuning rows."""
    depth = len(model.backbone.blocks)
    groups: dict[tuple[int, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("head") or name.startswith("backbone.norm") or name.startswith("backbone.fc_norm"):
            layer = depth + 1
        elif name.startswith("backbone.blocks."):
            layer = int(name.split(".")[2]) + 1
        else:
            layer = 0
        decay = p.ndim > 1 and "cls_token" not in name
        groups.setdefault((layer, decay), []).append(p)
    return [{"params": ps, "scale": cfg.layer_decay ** (depth + 1 - layer),
             "weight_decay": cfg.weight_decay if decay else 0.0} for (layer, decay), ps in sorted(groups.items())]


@torch.no_grad()
def utterance_logits(model: nn.Module, mels: Sequence[np.ndarray], std: Standardizer, frames: int,
                     batch_size: int = 256, device="cpu") -> np.ndarray:
    """Logits per utterance: the mean over its windows (:func:`emolib.vit.over_windows`)."""
    model.eval()
    mean_t, std_t = torch.from_numpy(std.mean)[:, None], torch.from_numpy(std.std)[:, None]
    return over_windows(lambda b: model(((b - mean_t) / std_t)[:, None].to(device)), mels, frames, batch_size)


def finetune_fold(meta: pd.DataFrame, fold: int, cfg: FinetuneConfig, out: str | os.PathLike | None,
                  backbone_cfg: BackboneConfig | None = None, device: str | None = None,
                  progress: bool = True, mels: Sequence[np.ndarray] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fine-tune on the training speakers of SI-5 fold ``fold``; returns the held-out speakers'
    predictions and the per-epoch history (train loss, held-out UAR as a monitor only).

    ``out``: the pretraining folder whose fold encoder to start from; ``None`` starts from a
    random initialisation of ``backbone_cfg`` (the same shape), with the same budget.  ``mels``:
    the log-mels of ``meta`` when the caller has them already.  ``device``: default ``EMOLIB_DEVICE``,
    else the GPU when there is one (:func:`emolib.devices.resolve`)."""
    from sklearn.metrics import balanced_accuracy_score
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    device = devices.resolve(device)
    f = speaker_folds(meta, "si5")[fold]
    if mels is None:
        mels = log_mels(meta.path, progress=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed * 1000 + fold)
        if out is not None:
            backbone, info = load_encoder(out, fold, device="cpu")
            backbone.requires_grad_(True)
            frozen = info["backbone"]
            norm = info["normalization"]
            std = Standardizer(np.array(norm["mean"], np.float32), np.array(norm["std"], np.float32))
            frames = frozen["frames"]
            if frozen.get("stop_grad_conv1"):
                backbone.patch_embed.proj.requires_grad_(False)
            backbone.pos_embed.requires_grad_(False)
        else:
            if backbone_cfg is None:
                raise ValueError("fine-tuning from scratch needs backbone_cfg")
            backbone = create_backbone(backbone_cfg)
            std, frames = fit_standardizer(mels, f), backbone_cfg.frames
        model = Classifier(backbone).to(device)
        groups = _layer_groups(model, cfg)
        opt = torch.optim.AdamW(groups, lr=cfg.lr)
        train_mels = [std(mels[i]) for i in f.train]
        bank = MelBank(train_mels).to(device)
        labels = {c: i for i, c in enumerate(CLASSES)}
        y_all = meta.emotion.astype(str).map(labels).to_numpy()
        y = torch.from_numpy(y_all[f.train])
        weight = class_weights(y).to(device)
        crop, masks = RandomTimeCrop(frames), SpecAugment(cfg.freq_mask, cfg.time_mask)
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + fold)
        per_epoch = math.ceil(len(y) * cfg.crops_per_epoch / cfg.batch_size)
        total, step, history = cfg.epochs * per_epoch, 0, []
        bar = tqdm(total=total, desc=f"fine-tune fold {fold}" + (" (scratch)" if out is None else ""),
                   unit="step", disable=not progress)
        for epoch in range(cfg.epochs):
            model.train()
            order = torch.cat([torch.randperm(len(y), generator=gen) for _ in range(cfg.crops_per_epoch)])
            losses = []
            for i in range(per_epoch):
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                if len(idx) < 2:
                    continue
                t = step / per_epoch
                scale = t / cfg.warmup_epochs if t < cfg.warmup_epochs else \
                    0.5 * (1 + math.cos(math.pi * (t - cfg.warmup_epochs) / max(cfg.epochs - cfg.warmup_epochs, 1e-9)))
                for g in opt.param_groups:
                    g["lr"] = cfg.lr * scale * g["scale"]
                x = masks(crop(bank, idx, gen), gen)[:, None]
                loss = F.cross_entropy(model(x), y[idx].to(device), weight=weight,
                                       label_smoothing=cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                step += 1
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
            logits = utterance_logits(model, [mels[i] for i in f.test], std, frames, device=device)
            history.append({"fold": fold, "epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                            "test_uar": float(balanced_accuracy_score(y_all[f.test], logits.argmax(1)))})
        bar.close()
    pred = np.array(CLASSES)[logits.argmax(1)]
    steps.step(f"fine-tuning fold {fold} from {'random weights' if out is None else 'its MoCo v3 encoder'} "
               f"({cfg.epochs} epochs, {devices.name(device)}), held-out UAR {history[-1]['test_uar']:.3f}", time.perf_counter() - t0)
    table = pd.DataFrame({"file": meta.file.to_numpy()[f.test], "speaker": meta.speaker.to_numpy()[f.test],
                          "fold": fold, "y_true": meta.emotion.astype(str).to_numpy()[f.test], "y_pred": pred})
    return table, pd.DataFrame(history)


def finetune_cv(meta: pd.DataFrame, cfg: FinetuneConfig, out: str | os.PathLike | None,
                backbone_cfg: BackboneConfig | None = None, device: str | None = None,
                progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """:func:`finetune_fold` over the five folds: predictions, histories and wall seconds."""
    with Timer() as t:
        mels = log_mels(meta.path, progress=False)
        parts = [finetune_fold(meta, k, cfg, out, backbone_cfg, device, progress, mels) for k in range(N_FOLDS)]
    return (pd.concat([p for p, _ in parts], ignore_index=True),
            pd.concat([h for _, h in parts], ignore_index=True), t.seconds)
