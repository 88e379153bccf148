"""The systems, registered by name (in the spirit of timm's ``create_model``): every way this repository
turns a recording into seven class probabilities.

A :class:`System` says how it builds its features — for the corpus (:meth:`System.corpus_features`: one
table, or one per fold where an encoder was pretrained per fold) and for one waveform
(:meth:`System.waveform_features`) — and its classifier (:meth:`System.classifier`, at the profile's
budget), and which SI-5 results row measures it alone.  A fusion of any two or more registered systems
is a system too, named ``fusion_<a>_<b>…`` (:mod:`emolib.systems.fusion` stacks them).

The fusion study, the final models, ``predict`` (``--model``), ``bench predict`` and the EmoBox study ask
this module, and only it, what the systems are: :func:`get`, :func:`names`, :func:`check`,
:func:`models` and :func:`systems_of`.  A new system is one :func:`register` call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..core.errors import EmolibError
from ..evaluation.runs import RunName, baseline_stem, cnn_stem, fusion_stem, fusion_systems, probe_stem, ssl_stem
from . import classifiers
from .classifiers import Classifier


@dataclass(frozen=True)
class System:
    """A registered system.

    ``features(meta, progress)``: one row per utterance of ``meta`` (cached); ``frontend()``: what it computes
    from one 16 kHz waveform (a cacheable front-end, :class:`emolib.data.features.Frontend`) and ``reduce``,
    that output as the utterance's row; ``classifier(profile)``: how its single-system row fits it.
    ``per_fold`` systems read each fold's pretrained encoder instead (their corpus features are
    ``{fold: table}``); their front-end is the log-mel the encoder takes, reduced to itself, and ``learner``
    names which encoders (a variant of :data:`emolib.ssl.shortcut.VARIANTS` or :data:`~emolib.ssl.shortcut.LEARNERS`:
    ``"report"``, the recipe's, in ``checkpoints/``; another, the ablation's fold encoders of that variant) and
    ``stats`` whether the probe reads the statistics read-out (:func:`emolib.models.vit.embed`)."""

    name: str
    title: str
    row: str
    features: Callable[..., np.ndarray] | None
    frontend: Callable[[], object]
    reduce: Callable[[np.ndarray], np.ndarray]
    classifier: Callable[[str | None], Classifier]
    per_fold: bool = False
    learner: str = "report"
    stats: bool = False
    #: Other classifiers measured on the same features, as (title, SI-5 row): studies that compare them.
    variants: tuple[tuple[str, str], ...] = ()

    def corpus_features(self, meta: pd.DataFrame, *, protocol: str = "si5", encoders=None,
                        profile: str | None = None, progress: bool = False) -> np.ndarray | dict[int, np.ndarray]:
        """The utterance features of every row of ``meta``: one table, or ``{fold: table}`` for a
        ``per_fold`` system, from the fold encoders in ``encoders`` (default: :meth:`encoders_folder`), which
        must have been pretrained on ``protocol``'s folds on inputs of one recording (a raw system: no
        per-speaker statistics)."""
        if not self.per_fold:
            return self.features(meta, progress)
        from ..ssl.encoders import encoder_summary, fold_embeddings, require

        folder = encoders or self.encoders_folder(meta.attrs.get("corpus"), profile, protocol)
        require(encoder_summary(folder), folder, protocol, raw=True)
        return fold_embeddings(meta, folder, progress=progress, stats=self.stats)

    def encoders_folder(self, corpus: str | None = None, profile: str | None = None, protocol: str = "si5"):
        """Where a ``per_fold`` system's fold encoders live by default: the recipe's in ``checkpoints/``
        (:func:`emolib.ssl.pretrain_config.default_out`), a learner's in the ablation's folder of that variant
        (SI-5 only: ``python -m emolib ablation --variants <learner>`` pretrains them)."""
        from ..ssl.pretrain_config import ablation_out, default_out

        if self.learner == "report":
            return default_out(corpus, profile, protocol)
        if protocol != "si5":
            raise EmolibError(f"system {self.name}: its encoders ({self.learner}) are pretrained on SI-5 folds only; "
                              f"leave it out of --systems for {protocol}")
        return ablation_out(corpus, profile) / self.learner

    def encode(self, encoder: tuple, mels) -> np.ndarray:
        """A ``per_fold`` system's rows of log-mels (one recording each) from ``encoder`` (``(backbone, its JSON
        config)``, :func:`emolib.ssl.encoders.load_encoder`): inputs standardised as it was pretrained, windows
        pooled by its read-out."""
        from ..models.vit import embed
        from ..ssl.encoders import input_norm
        from ..ssl.standardize import encoder_inputs

        model, info = encoder
        norm = info["normalization"]  # per-speaker inputs are refused before (require): one file at a time here
        x, mean, std = encoder_inputs(list(mels), [""] * len(mels), input_norm(info), np.array(norm["mean"]),
                                      np.array(norm["std"]))
        return np.asarray(embed(model, x, mean, std, info["backbone"]["frames"], stats=self.stats), np.float64)

    def waveform_features(self, y: np.ndarray) -> np.ndarray:
        """What :meth:`corpus_features` gives for one utterance (16 kHz mono); for a ``per_fold`` system
        its log-mel (:meth:`encode` applies the encoder)."""
        return self.reduce(self.frontend()(y))


_SYSTEMS: dict[str, System] = {}


def register(system: System) -> System:
    """Add ``system`` (its name may not hold ``_``: fusion names join system names with it)."""
    if "_" in system.name or system.name in _SYSTEMS:
        raise ValueError(f"system name {system.name!r}: taken, or holds '_'")
    _SYSTEMS[system.name] = system
    return system


def names() -> tuple[str, ...]:
    """Every registered system, in registration order (the fusion's default order)."""
    return tuple(_SYSTEMS)


def get(name: str) -> System:
    """The system ``name``, or a one-line error listing them."""
    if name not in _SYSTEMS:
        raise EmolibError(f"no system {name!r}; choose one of {', '.join(_SYSTEMS)}")
    return _SYSTEMS[name]


def check(chosen: Sequence[str], at_least: int = 1) -> list[str]:
    """``chosen`` if each is registered, distinct, and at least ``at_least`` of them, else a one-line error."""
    if any(n not in _SYSTEMS for n in chosen) or len(set(chosen)) < max(at_least, len(chosen)):
        raise EmolibError(f"--systems {' '.join(chosen)}: choose {at_least} or more distinct of {', '.join(_SYSTEMS)}")
    return list(chosen)


def subsets(systems: Sequence[str]) -> list[tuple[str, ...]]:
    """All the systems, and each subset that leaves one out (when that still fuses two or more)."""
    full = tuple(systems)
    return [full] + ([tuple(s for s in full if s != left) for left in full] if len(full) > 2 else [])


def models() -> list[str]:
    """Every model a final model can be trained as (``train-final --model``, ``predict --model``): each
    system's single row, and the fusion of all systems and of each subset that leaves one out."""
    return [s.row for s in _SYSTEMS.values()] + [fusion_stem(s) for s in subsets(names())]


def systems_of(model: str) -> list[str]:
    """The systems of model ``model`` (a single system's row, or ``fusion_<systems>`` of any two or more registered
    systems, in the registry's order), or a one-line error listing the choices (:func:`models`: the usual ones)."""
    by_row = {s.row: s.name for s in _SYSTEMS.values()}
    if model in by_row:
        return [by_row[model]]
    chosen = fusion_systems(model)  # any fusion of two or more registered systems, named in the registry's order
    if len(chosen) >= 2 and all(n in _SYSTEMS for n in chosen) and chosen == [n for n in _SYSTEMS if n in chosen]:
        return chosen
    raise EmolibError(f"--model {model!r}: choose 'best' or one of {', '.join(models())}")


# --- the systems ------------------------------------------------------------------------------------

def _opensmile(name: str, feature_set: str, title: str) -> System:
    from ..data.opensmile import OpenSmileFunctionals, functionals

    return System(name, f"{title} + logistic regression", baseline_stem(name, "logreg"),
                  features=lambda meta, progress: functionals(meta, feature_set, progress=progress),
                  frontend=lambda: OpenSmileFunctionals(feature_set), reduce=lambda column: column[:, 0],
                  classifier=lambda profile: classifiers.logreg(feature_set),
                  variants=((f"{title} + linear SVM", baseline_stem(name, "svm")),))


def _conv1d_features(meta: pd.DataFrame, progress: bool) -> np.ndarray:
    from ..data.descriptors import descriptors, segment_means

    return segment_means(descriptors(meta, progress=progress), None)[0]


def _descriptors():
    from ..data.descriptors import ReportDescriptors

    return ReportDescriptors()


def _conv1d_classifier(profile: str | None) -> Classifier:
    from ..models.cnn import budget

    return classifiers.conv1d(budget(profile))


def _log_mel():
    from ..data.features import LogMelConfig

    return LogMelConfig()


def _probe_classifier(profile: str | None) -> Classifier:
    from ..evaluation.probes import budget

    return classifiers.probe(budget(profile)["logreg_C"])


register(_opensmile("compare", "ComParE_2016", "ComParE_2016"))
register(_opensmile("egemaps", "eGeMAPSv02", "eGeMAPSv02"))
register(System("moco", "MoCo v3 probe", probe_stem("moco"), features=None, frontend=_log_mel,
                reduce=lambda mel: mel, classifier=_probe_classifier, per_fold=True))
register(System("cnn", "Conv1D, whole utterances", cnn_stem(None), features=_conv1d_features,
                frontend=_descriptors, reduce=lambda frames: frames.mean(axis=1), classifier=_conv1d_classifier))
# the learners' study's best (notebook 07): a small CNN pretrained by MoCo v3 and by regression of each utterance's
# eGeMAPS functionals (no emotion label), read out by mean, spread and maximum over half-overlapping windows
register(System("cnnsig", "self-supervised CNN (MoCo v3 + signal-derived targets), statistics read-out, linear probe",
                str(RunName(ssl_stem("cnn_sig"), "stats")), features=None, frontend=_log_mel, reduce=lambda mel: mel,
                classifier=_probe_classifier, per_fold=True, learner="cnn_sig", stats=True))
