"""A pretraining run's settings and where its encoders live: :class:`PretrainConfig` (the flags of
``python -m emolib pretrain``), a profile's budget with a pretext variant (:func:`profile_config`),
the folders of the report's recipe and of the default encoder (:func:`default_out`,
:func:`default_encoder`), and ``--fold``.  No training here (:mod:`emolib.ssl.pretrain` runs it), so the
evaluation side can name an encoder folder without importing the training loop."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..augmentation.views import RECIPES
from ..core import budgets, env
from ..core.errors import EmolibError
from ..data.features import LogMelConfig
from ..data.splits import PROTOCOL_NAMES
from ..models.archs import ARCHS, CNNS
from ..models.vit import BackboneConfig
from .shortcut import BATCH_BY, INPUT_NORM, LEARNER_DEFAULTS, LEARNERS, OBJECTIVES, TARGETS, VARIANTS
from .shortcut import DEFAULTS as PRETEXT


@dataclass
class PretrainConfig:
    """A pretraining run's settings; flags of ``python -m emolib pretrain`` carry the same
    names as the official ``main_moco.py`` where they mean the same."""

    arch: str = "vit_tiny"
    depth: int = 12
    patch_size: int = 16
    frames: int = 96
    stop_grad_conv1: bool = True
    epochs: int = 100
    batch_size: int = 128
    lr: float = 1.5e-4  # base lr: the actual lr is lr * batch_size / 256
    weight_decay: float = 0.1
    warmup_epochs: float = 10
    optimizer: str = "adamw"
    moco_dim: int = 256
    moco_mlp_dim: int = 4096
    moco_m: float = 0.99
    moco_m_cos: bool = True
    moco_t: float = 0.2
    aug: str = "report"
    variants: int = 4
    seed: int = 0
    save_every: int = 10
    keep_epochs: tuple[int, ...] = ()
    knn_every: int = 5
    knn_k: int = 20
    spike_factor: float = 2.5
    batch_by: str = PRETEXT["batch_by"]        # "speaker" / "gender": one speaker (gender) per batch
    input_norm: str = PRETEXT["input_norm"]    # "speaker": each log-mel with its speaker's statistics
    warp: float = PRETEXT["warp"]              # mel-axis (vocal-tract-length) warp of the views, max |1 - α|
    formant: float = PRETEXT["formant"]        # the spectral envelope alone warped, max |1 - α|
    pitch: float = PRETEXT["pitch"]            # the harmonic fine structure alone warped, max |1 - β|
    warp_views: str = PRETEXT["warp_views"]    # "one": only view 2 is warped (warp, formant, pitch)
    adversary: float = PRETEXT["adversary"]    # weight of the gradient-reversed speaker head (0: none)
    protocol: str = "si5"        # whose folds: "si5" (headline), "loso" or "emobox" (emolib.data.splits)
    objective: str = "moco"      # "moco", "masked" (masked prediction of log-mel patches) or "both" (ViTs)
    mask_ratio: float = 0.6      # the share of view 1's patches the masked objective hides
    masked_weight: float = 1.0   # the masked loss's weight beside the contrastive one ("both")
    targets: str = "none"        # "functionals" / "frames" / "both": also regress eGeMAPS functionals / frame descriptors
    targets_weight: float = 1.0  # that regression's weight beside the objective's loss

    def __post_init__(self):
        if self.aug not in RECIPES:
            raise EmolibError(f"--aug {self.aug!r}: choose one of {', '.join(RECIPES)}")
        for name, allowed in (("batch_by", BATCH_BY), ("input_norm", INPUT_NORM),
                              ("warp_views", ("both", "one"))):
            if getattr(self, name) not in allowed:
                raise EmolibError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: choose one of "
                                  + ", ".join(allowed))
        for name in ("warp", "formant", "pitch"):
            if not 0 <= getattr(self, name) < 1:
                raise EmolibError(f"--{name} {getattr(self, name)}: the largest warp |1 - α| must be in [0, 1), e.g. 0.15")
        if self.protocol not in PROTOCOL_NAMES:
            raise EmolibError(f"--protocol {self.protocol!r}: choose one of {', '.join(PROTOCOL_NAMES)}")
        if self.adversary < 0:
            raise EmolibError(f"--adversary {self.adversary}: the weight must be 0 (off) or positive")
        bands = LogMelConfig().n_mels
        if self.arch not in ARCHS:
            raise EmolibError(f"--arch {self.arch!r}: choose one of {', '.join(ARCHS)}")
        if self.objective not in OBJECTIVES:
            raise EmolibError(f"--objective {self.objective!r}: choose one of {', '.join(OBJECTIVES)}")
        if self.targets not in TARGETS:
            raise EmolibError(f"--targets {self.targets!r}: choose one of {', '.join(TARGETS)}")
        if self.objective == "none" and self.targets == "none":
            raise EmolibError("--objective none trains nothing without --targets: give --targets functionals, frames or both")
        if self.targets_weight < 0:
            raise EmolibError(f"--targets-weight {self.targets_weight}: the weight must be 0 or positive")
        if not 0 < self.mask_ratio < 1 or self.masked_weight < 0:
            raise EmolibError(f"--mask-ratio {self.mask_ratio} / --masked-weight {self.masked_weight}: the ratio must be "
                              "in (0, 1) (e.g. 0.6), the weight 0 or positive")
        if self.arch in CNNS:
            if self.objective in ("masked", "both"):
                raise EmolibError(f"--objective {self.objective}: masked prediction needs a ViT; --arch {self.arch} is a CNN")
            return  # no patches
        if self.patch_size < 1 or self.frames % self.patch_size or bands % self.patch_size:
            raise EmolibError(f"--frames {self.frames} / --patch-size {self.patch_size}: the patch size must divide "
                              f"the crop length and the {bands} mel bands (e.g. --patch-size 16 --frames 96)")

    def backbone(self, n_mels: int = 64) -> BackboneConfig:
        return BackboneConfig(self.arch, self.depth, n_mels, self.frames, self.patch_size,
                              self.stop_grad_conv1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["keep_epochs"] = list(self.keep_epochs)
        return d


def profile_config(profile: str | None = None, variant: str = "report", **overrides) -> PretrainConfig:
    """The profile's budget (:data:`emolib.core.budgets.PRETRAIN`) with the pretext options of ``variant``
    (:data:`emolib.ssl.VARIANTS`; default the report's recipe) and ``overrides`` (None values ignored)."""
    if variant not in VARIANTS:
        raise EmolibError(f"--variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    values = {**budgets.budget(budgets.PRETRAIN, profile), **VARIANTS[variant],
              **{k: v for k, v in overrides.items() if v is not None}}
    values["keep_epochs"] = tuple(values.get("keep_epochs", ()))
    return PretrainConfig(**values)


def default_out(corpus: str | None = None, profile: str | None = None, protocol: str = "si5",
                variant: str = "report") -> Path:
    """Where fold encoders of the profile's budget live (git-ignored): ``checkpoints/`` for the full run on
    EmoDB, ``checkpoints/<corpus>-<profile>`` otherwise; ``…/<protocol>`` for folds other than SI-5's;
    ``…/<variant>`` for pretext options other than the report's recipe (``checkpoints/`` itself holds the
    recipe's encoders, the ``moco`` system of the fusion and the final models)."""
    base = env.run_dir(env.REPO / "checkpoints", corpus, profile)
    base = base if protocol == "si5" else base / protocol
    return base if variant == "report" else base / variant


def ablation_out(corpus: str | None = None, profile: str | None = None) -> Path:
    """Where the pretext ablation and the learners' study keep their SI-5 fold encoders, one folder per variant
    (:mod:`emolib.studies.ablation`): ``checkpoints/ablation`` for the real run, per corpus and profile otherwise."""
    return env.run_dir(env.REPO / "checkpoints", corpus, profile) / "ablation"


def variant_config(name: str, base: PretrainConfig | None = None, profile: str | None = None) -> PretrainConfig:
    """The pretraining settings of ``name``, a pretext variant (:data:`emolib.ssl.shortcut.VARIANTS`) or a learner
    (:data:`emolib.ssl.shortcut.LEARNERS`): ``base``'s budget (default: the profile's) with the recipe's pretext
    options, objective and targets (:data:`emolib.ssl.shortcut.DEFAULTS`, :data:`emolib.ssl.shortcut.LEARNER_DEFAULTS`,
    whatever ``base`` had) and the variant's changes, so a variant means the same whichever encoder is the default."""
    changes = {**VARIANTS, **LEARNERS}
    if name not in changes:
        raise EmolibError(f"unknown variant(s) {name}; choose from {', '.join(changes)}")
    base = base or profile_config(profile)
    return replace(base, **{**PRETEXT, **LEARNER_DEFAULTS, **changes[name]})


def default_encoder(profile: str | None = None, corpus: str | None = None) -> tuple[PretrainConfig, Path]:
    """The default encoder's settings and folder: the profile's budget with the pretext of
    :data:`emolib.core.budgets.DEFAULT_PRETEXT`, in ``checkpoints/<variant>`` — what notebook 03 pretrains
    and notebook 04 evaluates (``python -m emolib pretrain --variant <variant> --out <folder>``)."""
    variant = budgets.DEFAULT_PRETEXT
    return profile_config(profile, variant), default_out(corpus, profile, variant=variant)


#: How many folds each protocol has (SI-5 and EmoBox 5, LOSO 10: one per EmoDB speaker).
N_FOLDS = {"si5": 5, "loso": 10, "emobox": 5}


def parse_fold(value: str, protocol: str = "si5") -> list[int]:
    """``--fold``: a fold 0-4 (0-9 for LOSO) of ``protocol``, or ``all``."""
    n = N_FOLDS.get(protocol, 5)
    if value == "all":
        return list(range(n))
    if value.isdigit() and int(value) < n:
        return [int(value)]
    raise EmolibError(f"--fold {value}: {PROTOCOL_NAMES.get(protocol, protocol)} folds are 0–{n - 1} (or 'all')")
