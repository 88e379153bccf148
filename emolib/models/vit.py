"""Vision Transformers (and small CNNs) on log-mel spectrograms, built on ``timm``: creation, export, import.

- :func:`create_backbone` — a plain ``timm`` ``VisionTransformer`` with one input channel (mel
  bands x frames), no classifier head, a fixed 2-D sin-cos position embedding and optionally
  a frozen random patch projection (MoCo v3's "stop-grad on the patch embedding").  Named sizes:
  ``vit_tiny`` (192-d, 3 heads), ``vit_small`` (384-d, 12 heads as in MoCo v3), ``vit_base``
  (768-d, 12 heads); depth and patch size are settings.
- or a small ``timm`` ResNet (:data:`CNNS`: ``resnet10t``, and ``resnet10t_half`` at half its widths), one
  input channel, its last feature map pooled by mean and max side by side (``global_pool="catavgmax"``, as
  BYOL-A's audio CNN pools over time): MoCo v3's ResNet form, a learner made for small data.  Depth, patch
  size and the frozen patch projection are ViT settings a CNN ignores.
- :func:`export_backbone` / :func:`load_backbone` — the backbone as ``safetensors`` plus a small
  JSON config (the ``timm.create_model`` arguments and the input normalisation), loadable into
  a plain ``timm.create_model(..., in_chans=1, img_size=..., num_classes=0)`` with ``strict=True``.
- :func:`load_official_moco` — starts from an official MoCo v3 ImageNet checkpoint
  (``module.base_encoder.*`` / ``module.momentum_encoder.*``, 3-channel 16×16 patches, a 14×14
  position grid, the projector inside ``head``): keys mapped, the 3 input channels folded into 1,
  the position grid resampled to the spectrogram's, what does not transfer dropped and listed.
- :func:`embed` — utterance embeddings: the encoder slid over the whole utterance in
  fixed-length windows (the tail covered), pooled over windows.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import EmolibError
from ..core.files import atomic_write
from .archs import ARCHS, CNNS, SIZES



@dataclass(frozen=True)
class BackboneConfig:
    """What defines a backbone; saved with every checkpoint and export."""

    arch: str = "vit_tiny"
    depth: int = 12
    n_mels: int = 64
    frames: int = 96
    patch_size: int = 16
    stop_grad_conv1: bool = False

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise EmolibError(f"--arch {self.arch!r} is not one of {', '.join(ARCHS)}")
        for name in () if self.cnn else ("n_mels", "frames"):
            if getattr(self, name) % self.patch_size:
                raise EmolibError(f"{name}={getattr(self, name)} is not a multiple of the patch size "
                                  f"{self.patch_size}; choose a crop length that is")

    @property
    def cnn(self) -> bool:
        """A CNN of :data:`CNNS` (no patches, no class token)."""
        return self.arch in CNNS

    @property
    def grid(self) -> tuple[int, int]:
        return self.n_mels // self.patch_size, self.frames // self.patch_size

    @property
    def embed_dim(self) -> int:
        if self.cnn:
            name, kwargs = CNNS[self.arch]
            return 2 * kwargs.get("channels", [64, 128, 256, 512])[-1]
        return SIZES[self.arch][1]

    def timm_kwargs(self) -> dict:
        """The arguments that rebuild this backbone with plain ``timm.create_model``."""
        if self.cnn:
            name, kwargs = CNNS[self.arch]
            return {"model_name": name, "in_chans": 1, "num_classes": 0, "global_pool": "catavgmax", **kwargs}
        name, dim, heads = SIZES[self.arch]
        return {"model_name": name, "img_size": [self.n_mels, self.frames], "patch_size": self.patch_size,
                "in_chans": 1, "num_classes": 0, "depth": self.depth, "num_heads": heads}


def sincos_2d(grid: tuple[int, int], dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embedding ``(1, 1 + rows·cols, dim)``: a quarter of the
    channels each for sin and cos of the row and of the column position, at geometrically
    spaced frequencies; the class token's position is zero.

    Kept rather than ``timm.layers.build_sincos2d_pos_embed``: timm's table orders its channels
    sin, sin, cos, cos (or interleaved), not MoCo v3's sin/cos of the column then of the row, and
    computes in float32 where this computes in float64 — using it would change the fixed table of
    every new encoder, so re-runs would no longer give the committed encoders bit for bit."""
    if dim % 4:
        raise ValueError(f"sincos_2d needs a width divisible by 4, got {dim}")
    rows, cols = grid
    r, c = torch.meshgrid(torch.arange(rows, dtype=torch.float64),
                          torch.arange(cols, dtype=torch.float64), indexing="ij")
    freq = 1.0 / 10_000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    pr, pc = r.reshape(-1, 1) * freq, c.reshape(-1, 1) * freq
    table = torch.cat([pc.sin(), pc.cos(), pr.sin(), pr.cos()], dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).float()[None]


def create_backbone(cfg: BackboneConfig = BackboneConfig()) -> nn.Module:
    """A ``timm`` ViT for ``(B, 1, n_mels, frames)`` log-mels, returning the class token
    (``num_classes=0``); or a CNN of :data:`CNNS`, returning its pooled feature map."""
    import timm

    kwargs = cfg.timm_kwargs()
    model = timm.create_model(kwargs.pop("model_name"), pretrained=False, **kwargs)
    if cfg.cnn:
        return model
    model.pos_embed.data.copy_(sincos_2d(cfg.grid, cfg.embed_dim))
    model.pos_embed.requires_grad_(False)
    if cfg.stop_grad_conv1:
        model.patch_embed.proj.requires_grad_(False)
    return model


# --- export and loading --------------------------------------------------------------------

@dataclass
class Normalization:
    """Per-band statistics the backbone's inputs were standardised with (a fold's training
    speakers)."""

    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)


def export_backbone(model: nn.Module, cfg: BackboneConfig, path: str | os.PathLike,
                    normalization: Normalization | None = None, extra: dict | None = None) -> Path:
    """Write ``<path>.safetensors`` and ``<path>.json`` (atomically); returns the JSON path."""
    from safetensors.torch import save

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path.with_suffix(".safetensors"), save(tensors))
    meta = {"format": "emolib-vit-backbone", "version": 1, "backbone": asdict(cfg),
            "timm": cfg.timm_kwargs(), "normalization": asdict(normalization or Normalization()),
            **(extra or {})}
    atomic_write(path.with_suffix(".json"), json.dumps(meta, indent=1).encode())
    return path.with_suffix(".json")


def load_backbone(path: str | os.PathLike, device="cpu") -> tuple[nn.Module, dict]:
    """A backbone written by :func:`export_backbone`, as a plain ``timm`` model (strict
    loading), and its JSON config."""
    import timm
    from safetensors.torch import load_file

    path = Path(path)
    meta_path, weights = path.with_suffix(".json"), path.with_suffix(".safetensors")
    for p in (meta_path, weights):
        if not p.is_file():
            raise EmolibError(f"{p}: no such file; export a backbone first (python -m emolib pretrain "
                              "writes one per fold)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != "emolib-vit-backbone":
        raise EmolibError(f"{meta_path} is not an emolib backbone config")
    kwargs = dict(meta["timm"])
    model = timm.create_model(kwargs.pop("model_name"), pretrained=False, **kwargs)
    try:
        state = load_file(weights, device="cpu")
    except Exception as e:  # safetensors raises its own SafetensorError for a damaged file
        raise EmolibError(f"{weights}: not a readable safetensors file ({e}); export it again") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise EmolibError(f"{weights} does not match its config {meta_path.name}: {e}") from None
    return model.to(device).eval(), meta


# --- official MoCo v3 checkpoints ------------------------------------------------------------

OFFICIAL_PREFIXES = ("module.base_encoder.", "module.momentum_encoder.")


def _official_state(state: dict) -> dict:
    if "state_dict" in state:
        state = state["state_dict"]
    base = {k[len(OFFICIAL_PREFIXES[0]):]: v for k, v in state.items() if k.startswith(OFFICIAL_PREFIXES[0])}
    if not base or "patch_embed.proj.weight" not in base or "pos_embed" not in base:
        sample = ", ".join(list(state)[:4])
        raise EmolibError("not an official MoCo v3 ViT checkpoint: expected keys starting with "
                          f"'module.base_encoder.' (patch_embed.proj.weight, pos_embed, blocks.*); found {sample} …")
    return base


def load_official_moco(model: nn.Module, state: dict, cfg: BackboneConfig) -> dict[str, list[str]]:
    """Copy the base encoder of an official MoCo v3 ViT checkpoint into ``model``.

    The 3-channel patch projection is summed over channels (an RGB image of a grey picture
    is the same picture thrice); the position embedding's patch grid is resampled (bicubic)
    to ``cfg.grid`` unless ``model`` keeps a fixed sin-cos one; the projector in ``head``, the
    momentum encoder and anything of another shape are dropped.  Returns what was loaded,
    adapted and skipped (also printed)."""
    base = _official_state(state)
    own = model.state_dict()
    report = {"loaded": [], "adapted": [], "skipped": []}
    new = {}
    for key, value in base.items():
        value, adapted = value.float(), None
        if key == "patch_embed.proj.weight" and value.shape[1] == 3:
            from timm.models import adapt_input_conv

            value = adapt_input_conv(1, value)  # timm's input-conv adaptation: one channel sums the three
            if value.shape[-2:] != own[key].shape[-2:]:
                value = F.interpolate(value, size=own[key].shape[-2:], mode="bicubic", align_corners=False)
            adapted = f"{key}: 3 input channels summed into 1"
        elif key == "pos_embed":
            if not model.pos_embed.requires_grad:
                report["skipped"].append("pos_embed: the model keeps its fixed 2-D sin-cos embedding")
                continue
            value = _resample_grid(value, cfg.grid)
            adapted = f"pos_embed: position grid resampled to {cfg.grid[0]}x{cfg.grid[1]}"
        if key not in own:
            report["skipped"].append(f"{key}: no such parameter here (projector / classifier)")
        elif own[key].shape != value.shape:
            report["skipped"].append(f"{key}: shape {tuple(value.shape)} here {tuple(own[key].shape)}")
        else:
            new[key] = value
            report["adapted" if adapted else "loaded"].append(adapted or key)
    missing = [k for k in own if k not in new]
    model.load_state_dict({**own, **new}, strict=True)
    print(f"init-from: {len(report['loaded'])} tensors loaded as they are, {len(report['adapted'])} adapted, "
          f"{len(report['skipped'])} skipped; kept as initialised here: {', '.join(missing) or 'none'}")
    for line in report["adapted"] + report["skipped"]:
        print("  " + line)
    report["kept"] = missing
    return report


def _resample_grid(pos: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``(1, 1 + h·w, d)`` -> ``(1, 1 + rows·cols, d)``, keeping the class token's entry: timm's
    bicubic resampling of absolute positions (without antialiasing, as before; a test checks it
    against plain ``F.interpolate``), after checking the official grid is square."""
    from timm.layers import resample_abs_pos_embed

    side = int(math.isqrt(pos.shape[1] - 1))
    if side * side != pos.shape[1] - 1:
        raise EmolibError(f"pos_embed has {pos.shape[1] - 1} patch positions, not a square grid")
    return resample_abs_pos_embed(pos, list(grid), [side, side], num_prefix_tokens=1, interpolation="bicubic",
                                  antialias=False)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """``torch.load(..., weights_only=True)``: tensors and plain Python values only.  A file
    that needs pickled code to load is refused with a clear error, never executed."""
    path = Path(path)
    if not path.is_file():
        raise EmolibError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError (or RuntimeError) for pickled code
        if "weights_only" in str(e) or "Unsupported" in str(e) or "global" in str(e).lower():
            raise EmolibError(f"{path}: refused, loading it would run pickled code (weights_only=True "
                              "found objects that are not tensors or plain values); only use checkpoints "
                              "you trust, re-saved as plain state dicts") from None
        raise EmolibError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None


# --- utterance embeddings --------------------------------------------------------------------

def windows(mel: np.ndarray, frames: int, hop: int | None = None) -> np.ndarray:
    """Windows of ``frames`` frames, ``hop`` frames apart (default ``frames``: no overlap), covering the
    whole utterance: the last one ends at the last frame (overlapping its neighbour) so the tail is
    covered; an utterance shorter than a window is repeated to fill it.  ``(n_windows, bands, frames)``."""
    n, hop = mel.shape[1], hop or frames
    if n <= frames:
        return np.resize(mel, (mel.shape[0], frames))[None] if n < frames else mel[None]
    starts = list(range(0, n - frames + 1, hop))
    if starts[-1] + frames < n:
        starts.append(n - frames)
    return np.stack([mel[:, s:s + frames] for s in starts])


#: How :func:`over_windows` pools an utterance's window outputs: their mean, or their mean, standard
#: deviation and maximum side by side (the statistics read-out: 3x as wide, like the functionals of
#: hand-made feature sets, which summarise a whole utterance by means, spreads and extremes).
POOLINGS = ("mean", "stats")


def over_windows(fn, mels: Sequence[np.ndarray], frames: int, batch_size: int = 256,
                 progress: bool = False, desc: str = "windows", hop: int | None = None,
                 over: str = "mean") -> np.ndarray:
    """``fn`` applied to batches of ``(B, F, frames)`` windows (:func:`windows`, ``hop`` apart) covering
    each utterance, its outputs ``(B, d)`` pooled over each utterance's windows (``over``, :data:`POOLINGS`):
    ``(n, d)``, or ``(n, 3d)`` for ``"stats"``."""
    from tqdm.auto import tqdm

    if over not in POOLINGS:
        raise ValueError(f"over must be one of {POOLINGS}, got {over!r}")
    pieces = [windows(m, frames, hop) for m in mels]
    owner = np.repeat(np.arange(len(pieces)), [len(p) for p in pieces])
    stack = torch.from_numpy(np.concatenate(pieces).astype(np.float32, copy=False))
    out = torch.cat([fn(stack[i:i + batch_size]).float().cpu()
                     for i in tqdm(range(0, len(stack), batch_size), desc=desc, unit="batch",
                                   disable=not progress)]).numpy()
    counts = np.bincount(owner)[:, None]
    sums = np.zeros((len(pieces), out.shape[1]))
    np.add.at(sums, owner, out)
    mean = sums / counts
    if over == "mean":
        return mean
    squares = np.zeros_like(sums)
    np.add.at(squares, owner, (out - mean[owner]) ** 2)
    peak = np.full_like(sums, -np.inf)
    np.maximum.at(peak, owner, out)
    return np.concatenate([mean, np.sqrt(squares / counts), peak], axis=1)


@torch.no_grad()
def embed(backbone: nn.Module, mels: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray,
          frames: int, pool: str = "cls", batch_size: int = 256, device="cpu",
          progress: bool = False, blocks: int = 1, stats: bool = False) -> np.ndarray:
    """One vector per utterance: the backbone's output (``pool="cls"``: the class token;
    ``"mean"``: the mean of the patch tokens) averaged over the utterance's windows.
    ``blocks=n`` concatenates that token from each of the last ``n`` blocks (each through the
    final norm), as DINO's linear evaluation does; ``n`` times as wide.  ``stats``: the statistics
    read-out instead — windows overlapping by half, their outputs pooled by mean, standard deviation
    and maximum (:func:`over_windows`); 3 times as wide."""
    if pool not in ("cls", "mean"):
        raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
    cnn = not hasattr(backbone, "blocks")  # a CNN: its pooled output ("cls": it has no class token)
    if cnn and (pool != "cls" or blocks != 1):
        raise EmolibError("a CNN encoder has one read-out, its pooled feature map: use pool 'cls' and one block")
    if not cnn and not 1 <= blocks <= len(backbone.blocks):
        raise ValueError(f"blocks must be 1..{len(backbone.blocks)} (the backbone's depth), got {blocks}")
    mean_t = torch.as_tensor(mean, dtype=torch.float32)[:, None]
    std_t = torch.as_tensor(std, dtype=torch.float32)[:, None]
    prefix = getattr(backbone, "num_prefix_tokens", 1)

    def features(batch: torch.Tensor) -> torch.Tensor:
        x = ((batch - mean_t) / std_t)[:, None].to(device)
        if cnn:
            return backbone(x)
        if blocks == 1:
            tokens = backbone.forward_features(x)
            return tokens[:, 0] if pool == "cls" else tokens[:, prefix:].mean(1)
        layers = backbone.forward_intermediates(x, indices=blocks, norm=True, output_fmt="NLC",
                                                return_prefix_tokens=True, intermediates_only=True)
        return torch.cat([cls[:, 0] if pool == "cls" else patches.mean(1) for patches, cls in layers], 1)

    was_training = backbone.training
    backbone.eval()
    try:
        return over_windows(features, mels, frames, batch_size, progress, "embedding",
                            hop=frames // 2 if stats else None, over="stats" if stats else "mean").astype(np.float32)
    finally:
        backbone.train(was_training)
