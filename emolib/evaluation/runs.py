"""Run names: the one grammar of the results store's file names (``results/<run>.json``).

A run name reads ``<stem>[_<tag>][_seed<S>][_spknorm][_<protocol>]``:

- **stem**: what was evaluated and how it is read out: ``baseline_compare_logreg``, ``cnn_si5_whole``,
  ``moco_probe_logreg``, ``moco_warp_speaker_input_finetune``, ``ssl_<variant>``, ``fusion_<systems>``;
- **tag**: a budget other than the profile's (``cpu``, ``e300``, ``vits12_e150``…), then ``stats`` for the
  statistics read-out of the learners' study.  Only the ablation's rows (``ssl_<variant>``, pretext variants
  and learners) keep it apart from the stem; elsewhere it is part of the stem;
- **seed**: another seed of the same budget (seed 0 has no suffix): ``_seed<S>``;
- **spknorm**: speaker normalisation (docs/protocol.md: always its own row);
- **protocol**: ``_emobox`` or ``_loso``; SI-5, the headline, has none.  A stem that names SI-5 itself
  (``cnn_si5_<segment>``) drops ``_si5`` on another protocol: the EmoBox twin of ``cnn_si5_whole`` is
  ``cnn_whole_emobox``.  The report's leaky split has no suffix either: its stems say ``cnn_leaky_``.

:class:`RunName` parses and formats names (``str(RunName.parse(n)) == n`` for every committed run:
``tests/test_results.py``); :meth:`RunName.twin` gives the same run with speaker normalisation, on another
protocol or with another seed.  The stem builders below are the only places that spell stems.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..models.archs import CNNS
from ..ssl.shortcut import LEARNERS, VARIANTS, variant_of

#: Protocols a name carries as a suffix (SI-5 carries none; the leaky split is in its stems).
SUFFIXED = ("emobox", "loso")
PROTOCOLS = ("si5", "leaky", *SUFFIXED)
_SI5_STEM = re.compile(r"cnn_si5_(\d+ms|whole)")
_OTHER_STEM = re.compile(r"cnn_(\d+ms|whole)")


@dataclass(frozen=True)
class RunName:
    """A run's name, in parts (see the module docstring)."""

    stem: str
    tag: str = ""
    seed: int = 0
    speaker_norm: bool = False
    protocol: str = "si5"

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"run protocol {self.protocol!r}: choose one of {', '.join(PROTOCOLS)}")
        if self.seed < 0 or not self.stem or "_seed" in f"_{self.tag}".replace("_seeds", ""):
            raise ValueError(f"run name parts {self!r}: a stem, a non-negative seed, no seed inside the tag")

    def __str__(self) -> str:
        stem = self.stem
        if self.protocol in SUFFIXED and (m := _SI5_STEM.fullmatch(stem)):
            stem = f"cnn_{m.group(1)}"
        parts = [stem, self.tag, f"seed{self.seed}" if self.seed else "", "spknorm" if self.speaker_norm else "",
                 self.protocol if self.protocol in SUFFIXED else ""]
        return "_".join(p for p in parts if p)

    @classmethod
    def parse(cls, name: str) -> "RunName":
        """The parts of ``name`` (its stem and tag apart only for ``ssl_<variant>`` rows)."""
        rest, protocol = name, "si5"
        for p in SUFFIXED:
            if rest.endswith(f"_{p}"):
                rest, protocol = rest[: -len(p) - 1], p
        speaker_norm = rest.endswith("_spknorm")
        rest = rest[: -len("_spknorm")] if speaker_norm else rest
        seed = 0
        if m := re.fullmatch(r"(.+)_seed(\d+)", rest):
            rest, seed = m.group(1), int(m.group(2))
        if protocol in SUFFIXED and (m := _OTHER_STEM.fullmatch(rest)):
            rest = f"cnn_si5_{m.group(1)}"
        elif protocol == "si5" and rest.startswith("cnn_leaky_"):
            protocol = "leaky"
        stem, tag = rest, ""
        if rest.startswith("ssl_"):
            variant = max((v for v in (*VARIANTS, *LEARNERS) if rest[4:] == v or rest[4:].startswith(v + "_")),
                          key=len, default=None)
            if variant:
                stem, tag = f"ssl_{variant}", rest[len(variant) + 5:]
        return cls(stem, tag, seed, speaker_norm, protocol)

    def twin(self, **changes) -> "RunName":
        """The same run with ``changes`` (``speaker_norm=True``, ``protocol="emobox"``, ``seed=2``…)."""
        return replace(self, **changes)


def twin(name: str, **changes) -> str:
    """``name``'s twin as a string: ``twin("cnn_si5_whole", protocol="emobox") == "cnn_whole_emobox"``."""
    return str(RunName.parse(name).twin(**changes))


def named(stem: str, *, speaker_norm: bool = False, protocol: str = "si5", tag: str = "", seed: int = 0) -> str:
    """A run name from its parts."""
    return str(RunName(stem, tag, seed, speaker_norm, protocol))


# --- the stems ------------------------------------------------------------------------------------

def baseline_stem(feature_set: str, classifier: str) -> str:
    """``baseline_<egemaps|compare>_<svm|logreg>`` (``feature_set``: the short name)."""
    return f"baseline_{feature_set}_{classifier}"


def segment_label(seg_ms: int | None) -> str:
    """``128ms`` … ``1024ms``, or ``whole`` for whole utterances."""
    return "whole" if seg_ms is None else f"{seg_ms}ms"


def cnn_stem(seg_ms: int | None, split: str = "si5", cut: str = "") -> str:
    """The Conv1D's rows: ``cnn_si5_<segment>`` (SI-5, and its twins on other protocols) or
    ``cnn_leaky_<segment>[_<cut>]`` on the report's random split (``cut``: ``report_budget``, ``overlap50``)."""
    if split not in ("si5", "leaky"):
        raise ValueError(f"cnn_stem split {split!r}: si5 or leaky")
    return f"cnn_{split}_{segment_label(seg_ms)}" + (f"_{cut}" if cut else "")


#: What a row's name calls each pretraining objective (:data:`emolib.ssl.shortcut.OBJECTIVES`).
OBJECTIVE_NAMES = {"moco": "moco", "masked": "mask", "both": "moco_mask", "none": ""}
#: ... and each kind of signal-derived targets (:data:`emolib.ssl.shortcut.TARGETS`).
TARGET_NAMES = {"none": "", "functionals": "sig", "frames": "frames", "both": "sig_frames"}


def encoder_prefix(pretext: dict, aug: str | None = "report", arch: str | None = None, objective: str = "moco",
                   targets: str = "none") -> str:
    """How notebook 04's rows of an encoder begin: ``moco`` for the report's recipe, ``moco_<variant>`` for
    a pretext variant (:data:`emolib.ssl.shortcut.VARIANTS`), ``moco_custom`` otherwise (``pretext``: an
    encoder's options, as :func:`emolib.ssl.encoders.encoder_summary` gives them; no ``aug``: the report's views).
    Another learner says so first: ``mask`` / ``moco_mask`` for the masked objective alone / beside MoCo's, then a
    CNN encoder's name (``arch`` one of :data:`emolib.models.archs.CNNS`): ``moco_resnet10t_half``; signal-derived
    targets add ``sig`` (functionals), ``frames`` or ``sig_frames`` (``moco_sig``; ``sig`` alone: the targets without
    any other objective)."""
    name = variant_of(pretext, aug or "report")
    learner = "_".join(p for p in (OBJECTIVE_NAMES[objective], TARGET_NAMES[targets]) if p)
    learner += f"_{arch}" if arch in CNNS else ""
    return learner if name == "report" else f"{learner}_{name or 'custom'}"


def readout_suffix(readout: dict) -> str:
    """A probe read-out's part of a stem: none for the class token, ``_mean`` for the mean of the patch
    tokens, ``_cls_last_blocks`` for the class tokens of the last blocks; ``_stats`` after it for the
    statistics read-out (mean, spread and maximum over overlapping windows)."""
    stats = "_stats" if readout.get("stats") else ""
    if readout.get("blocks", 1) > 1:
        return "_cls_last_blocks" + stats
    return ("_mean" if readout["pool"] == "mean" else "") + stats


def probe_stem(encoder: str, probe: str = "logreg", readout: dict | None = None) -> str:
    """A linear probe's rows: ``<encoder>_probe_<logreg|torch>[<read-out>]`` (``encoder``: :func:`encoder_prefix`,
    or ``vit_random`` for the random-weight ViT; ``readout``: :func:`readout_suffix`, none for the class token)."""
    return f"{encoder}_probe_{probe}" + (readout_suffix(readout) if readout else "")


def finetune_stem(encoder: str) -> str:
    """An encoder fine-tuned end to end: ``<encoder>_finetune``."""
    return f"{encoder}_finetune"


#: The ViT trained end to end from random weights with the fine-tuning's budget.
SCRATCH_STEM = "vit_scratch"


def ssl_stem(variant: str) -> str:
    """The pretext ablation's rows of ``variant``: ``ssl_<variant>``."""
    return f"ssl_{variant}"


def nested_stem(system: str) -> str:
    """A system alone inside the fusion study's nested folds: ``nested_<system>``."""
    return f"nested_{system}"


def fusion_stem(systems) -> str:
    """``fusion_<system>_<system>…`` in the order given."""
    return "fusion_" + "_".join(systems)


def fusion_systems(stem: str) -> list[str]:
    """The systems of a :func:`fusion_stem` (none for another stem): its inverse."""
    return stem[len("fusion_"):].split("_") if stem.startswith("fusion_") else []


def robust_model(system: str, mct: bool = False) -> str:
    """A system of the robustness study: ``robust_<system>``, or ``robust_<system>_mct`` trained with
    multi-condition training (also the name ``predict --model`` takes for that final model)."""
    return f"robust_{system}{'_mct' if mct else ''}"


#: :func:`robust_model`'s multi-condition names; its group is the system.
MCT_MODEL = re.compile(r"robust_([a-z0-9]+)_mct")


def robust_stem(system: str, condition: str, mct: bool = False) -> str:
    """The robustness study's rows: ``robust_<system>[_mct]_<condition>`` (``clean`` for clean audio)."""
    return f"{robust_model(system, mct)}_{condition}"
