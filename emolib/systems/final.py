"""Final models: one of the results' systems trained on every speaker of the corpus, for
:mod:`emolib.systems.predict` (``python -m emolib train-final --model …``).

A final model is named like the results row it reproduces (``baseline_compare_logreg``,
``cnn_si5_whole``, ``moco_probe_logreg``, ``fusion_<systems>``; ``_spknorm`` appended with speaker
normalisation).  The row measured it under SI-5 (trained on 8 speakers, tested on 2); the final model
is the same recipe fitted on all ten speakers, so it has no test score of its own: the row's UAR is
what to expect from it on a new speaker of the kind EmoDB holds.

- single systems are fitted on all utterances;
- ``moco``: a MoCo v3 encoder is pretrained on every utterance (the profile's budget, the report's recipe, into
  ``<final>/moco_encoder/all``) and the probe fitted on its embeddings; ``cnnsig`` likewise with its learner
  (``<final>/cnnsig_encoder/all``);
- a fusion's stacker is fitted on out-of-fold class probabilities of every utterance: each SI-5
  fold's base systems (fitted on its 8 training speakers; the MoCo base with that fold's encoder
  of the report's recipe, ``checkpoints/fold<k>``) predict its 2 test speakers, as in :mod:`emolib.systems.fusion`.

Each model is a folder ``<final>/<row name>/`` (``checkpoints/final`` for EmoDB in the full profile,
git-ignored, :func:`final_dir`) holding ``model.safetensors`` (every fitted parameter as a plain array:
loading runs no pickled code) and ``model.json`` (its configuration, the SHA-256 of
``model.safetensors`` and of the encoder it needs, the commit that built it), checked on loading.  :func:`best` chooses the default model from the committed rows by a rule fixed beforehand.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..core import env
from ..core.errors import EmolibError
from ..core.files import atomic_write, sha256_file
from ..data.emodb import CLASSES
from ..data.features import speaker_standardize
from ..evaluation import metrics, results
from ..evaluation.calibration import fit_temperature, temper
from ..evaluation.runs import MCT_MODEL, fusion_stem, robust_model, robust_stem, twin
from . import conditions, fusion, quality, registry
from .classifiers import Classifier
from .portable import LinearModel, from_arrays, to_arrays  # noqa: F401 (LinearModel: part of this API)

FORMAT = "emolib-final-model"
VERSION = 5  # 3: a calibration (temperature, quality range, feature distance); 4: the distance to the nearest
#            training recordings (their standardised features kept in model.safetensors as bank.<system>);
#            5: one encoder per per-fold system (``encoders``, ``fold_encoders``: {system: …})


#: How fast :meth:`FinalModel.proba` falls back to the uniform answer beyond the training recordings' range:
#: at a distance of 1.35 yardsticks the model's own answer keeps half its weight, at 2 about 14 %.
SHRINK = 2.0

#: A system trained with multi-condition training (:mod:`emolib.studies.robustness`): ``robust_<system>_mct``.
MCT = MCT_MODEL


def models() -> list[str]:
    """Every model name ``--model`` takes: the registry's (:func:`emolib.systems.registry.models`) and, for each
    system without a per-fold encoder, its multi-condition version ``robust_<system>_mct``."""
    return registry.models() + [robust_model(n, mct=True) for n in registry.names() if not registry.get(n).per_fold]


def systems_of(name: str) -> list[str]:
    """The systems of model ``name`` (:func:`emolib.systems.registry.systems_of`, or the one of a
    multi-condition model)."""
    if (m := MCT.fullmatch(name)) and name in models():
        return [m.group(1)]
    if MCT.fullmatch(name):
        raise EmolibError(f"--model {name!r}: multi-condition models are offered for "
                          + ", ".join(n for n in models() if MCT.fullmatch(n)))
    return registry.systems_of(name)


def row_name(name: str, speaker_norm: bool) -> str:
    """The results row a final model reproduces: ``name``, or its ``_spknorm`` twin; for a multi-condition
    model its clean row of the robustness study, ``robust_<system>_mct_clean`` (raw only)."""
    if MCT.fullmatch(name):
        if speaker_norm:
            raise EmolibError(f"--model {name} --speaker-norm: multi-condition models are raw only")
        return robust_stem(MCT.fullmatch(name).group(1), "clean", mct=True)
    return twin(name, speaker_norm=speaker_norm)


#: :func:`best`'s candidates without the robustness rows: the single systems and the fusion of all of them, the
#: system chosen before any fusion row existed (a system registered later joins both by the same rule).  The leave-one-out subsets are measured too, but picking the
#: highest of them would be choosing on the test speakers; they are there to be asked for by name.
CANDIDATES = [registry.get(n).row for n in registry.names()] + [fusion_stem(registry.names())]


def robust_score(name: str, folder: Path) -> float | None:
    """The score :func:`best` ranks a raw model by when the robustness rows exist: the mean of its clean SI-5 UAR
    and its mean UAR over :data:`emolib.augmentation.degrade.TARGET` (a phone line, babble at 10 dB, RT60
    0.6 s), from the rows ``robust_<system>[_mct]_<condition>``; None when any of them is missing."""
    from ..augmentation.degrade import TARGET

    systems = systems_of(name)
    if len(systems) > 1:
        return None  # the fusion's robustness is not measured
    mct = bool(MCT.fullmatch(name))
    paths = [folder / f"{robust_stem(systems[0], c, mct)}.json" for c in ("clean", *TARGET)]
    if not all(p.is_file() for p in paths):
        return None
    uars = [json.loads(p.read_text())["uar"] for p in paths]
    return 0.5 * uars[0] + 0.5 * float(np.mean(uars[1:]))


def best(speaker_norm: bool, folder: Path | None = None, corpus: str | None = None) -> tuple[str, dict]:
    """The default model, by a rule fixed before any of the rows it reads existed, and ``{name: score}`` of the
    candidates found (in the full profile's results, ``folder``):

    - without speaker normalisation, where the robustness study's rows exist: of every single system, trained
      clean or with multi-condition training (``robust_<system>_mct``), the highest :func:`robust_score` —
      half clean SI-5 UAR, half mean UAR on a phone line, 10 dB babble and a 0.6 s room;
    - otherwise (and always with speaker normalisation): of :data:`CANDIDATES`, the highest SI-5 UAR, so the
      fusion is the default only where it beats the best single system."""
    folder = Path(folder) if folder else env.run_dir(env.RESULTS, corpus, "full")
    found = {}
    if not speaker_norm:
        for name in [registry.get(n).row for n in registry.names()] + [n for n in models() if MCT.fullmatch(n)]:
            score = robust_score(name, folder)
            if score is not None:
                found[name] = score
    if not found:
        for name in CANDIDATES:
            path = folder / f"{row_name(name, speaker_norm)}.json"
            if path.is_file():
                found[name] = json.loads(path.read_text())["uar"]
    if not found:
        raise EmolibError(f"no results rows in {env.repo_relative(folder)} to choose the best system from; "
                          "name one with --model")
    return max(found, key=found.get), found


def resolve(model: str, speaker_norm: bool, corpus: str | None = None) -> tuple[str, str]:
    """``--model`` as a model name (``best``: :func:`best`), and a line saying which model that is
    (empty when it was named)."""
    if model != "best":
        systems_of(model)
        row_name(model, speaker_norm)
        return model, ""
    name, found = best(speaker_norm, corpus=corpus)
    how = ("half clean SI-5 UAR, half mean UAR on a phone line, 10 dB babble and a 0.6 s room"
           if not speaker_norm and any(MCT.fullmatch(n) or robust_score(n, env.run_dir(env.RESULTS, corpus, "full"))
                                       is not None for n in found) else "SI-5 UAR")
    return name, f"model: {row_name(name, speaker_norm)} (the best system by {how}: {100 * found[name]:.1f} %)"


def comparison(folder: Path | None = None, corpus: str | None = None) -> pd.DataFrame:
    """Every model :func:`models` offers, one line each from its SI-5 rows: UAR and macro-F1 (%) without
    and with speaker normalisation, and whether :func:`best` weighs it for the raw default."""
    folder = Path(folder) if folder else env.run_dir(env.RESULTS, corpus, "full")
    try:
        weighed = set(best(False, folder)[1])
    except EmolibError:
        weighed = set()
    lines = []
    for name in models():
        line = {"model": name, "systems": " + ".join(systems_of(name)), "candidate": name in weighed}
        for norm, col in ((False, "raw"), (True, "spk-norm")):
            if norm and MCT.fullmatch(name):  # multi-condition models are raw only
                line[f"UAR {col}"] = line[f"F1 {col}"] = np.nan
                continue
            path = folder / f"{row_name(name, norm)}.json"
            row = json.loads(path.read_text()) if path.is_file() else {}
            line[f"UAR {col}"] = 100 * row["uar"] if row else np.nan
            line[f"F1 {col}"] = 100 * results.row_f1(row, folder) if row else np.nan
        lines.append(line)
    return pd.DataFrame(lines).set_index("model")


def final_dir(corpus: str | None = None, profile: str | None = None) -> Path:
    """``checkpoints/final`` (EmoDB, full profile), ``checkpoints/<corpus>-<profile>/final`` otherwise."""
    return env.run_dir(env.REPO / "checkpoints", corpus, profile) / "final"


def model_dir(name: str, speaker_norm: bool, corpus: str | None = None, profile: str | None = None) -> Path:
    return final_dir(corpus, profile) / row_name(name, speaker_norm)


def build_command(name: str, speaker_norm: bool, profile: str | None = None) -> str:
    return ("python -m emolib train-final --model " + name + (" --speaker-norm" if speaker_norm else "")
            + ("" if env.profile(profile) == "full" else f" --profile {env.profile(profile)}"))


# --- features of waveforms (prediction) -----------------------------------------------------------

def _vectors(systems: Sequence[str], y: np.ndarray) -> dict[str, np.ndarray]:
    return {s: registry.get(s).waveform_features(y) for s in systems}


def all_waveform_features(systems: Sequence[str], waves: Sequence[np.ndarray], jobs: int = 1) -> dict[str, list]:
    """``{system: [its waveform features of each waveform]}`` (:meth:`emolib.systems.registry.System.waveform_features`:
    a log-mel for ``moco``), every system
    of a waveform computed in one task, in ``jobs`` processes (joblib; each waveform is independent)."""
    if jobs == 1 or len(waves) < 2 * jobs:
        per_wave = [_vectors(systems, y) for y in waves]
    else:
        from joblib import Parallel, delayed

        per_wave = Parallel(n_jobs=jobs)(delayed(_vectors)(systems, y) for y in waves)
    return {s: [v[s] for v in per_wave] for s in systems}


def waveform_features(system: str, waves: Sequence[np.ndarray], jobs: int = 1) -> list[np.ndarray]:
    """:func:`all_waveform_features` of one system."""
    return all_waveform_features([system], waves, jobs)[system]


# --- the model ---------------------------------------------------------------------------------------

@dataclass
class FinalModel:
    """A loaded final model: its configuration, fitted base models, stacker (fusion) and the encoder of each
    per-fold system it uses (``{system: (backbone, its JSON config)}``)."""

    info: dict
    models: dict
    stacker: object = None
    encoders: dict = field(default_factory=dict, repr=False)  # {system: (backbone, its JSON config)}
    banks: dict = field(default_factory=dict, repr=False)  # {system: standardised training features}

    @property
    def systems(self) -> list[str]:
        return self.info["systems"]

    @property
    def speaker_norm(self) -> bool:
        return self.info["speaker_norm"]

    def features(self, waves: Sequence[np.ndarray], jobs: int = 1) -> dict[str, np.ndarray]:
        """``{system: (n, d)}`` for waveforms, before any speaker normalisation."""
        out = {}
        for s, rows in all_waveform_features(self.systems, waves, jobs).items():
            if registry.get(s).per_fold:  # the final encoder, pretrained on every speaker
                rows = registry.get(s).encode(self.encoders[s], rows)
            out[s] = np.asarray(np.stack(rows) if isinstance(rows, list) else rows, dtype=np.float64)
        return out

    def raw_proba(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """The system's own class probabilities (n x 7, :data:`CLASSES` order) from :meth:`features`
        (normalised by the caller when the model is speaker-normalised), before any calibration."""
        parts = [self.classifier(s).proba(self.models[s], feats[s]) for s in self.systems]
        if self.stacker is None:
            return parts[0]
        return fusion.stacker_proba(self.stacker, parts)

    def distance(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """How far each recording's features lie from its nearest training recordings', as a multiple of how
        far a training speaker's recordings lie from the other speakers' (:func:`emolib.systems.quality.nearest`,
        :func:`~emolib.systems.quality.yardstick`; the largest over the systems): 1 or less for a recording
        like EmoDB's."""
        ratios = [quality.nearest(_standardised(self.models[s], feats[s]), self.banks[s])
                  / self.info["calibration"]["distance"][s] for s in self.systems]
        return np.max(ratios, axis=0)

    def proba(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """Calibrated class probabilities: :meth:`raw_proba` tempered by the temperature fitted on the SI-5
        out-of-fold probabilities; then, for a recording whose :meth:`distance` ``d`` exceeds 1 (farther from the
        training recordings than 99 % of a new speaker's recordings would be), drawn towards the uniform answer with weight
        ``1 - exp(-SHRINK (d - 1))`` — so that a recording unlike any the model was trained on cannot get a
        confident answer, however large the classifier's logits.  Within the training range nothing changes."""
        cal = self.info.get("calibration")
        if cal is None:  # a model built before calibration existed
            return self.raw_proba(feats)
        return fall_back(temper(self.raw_proba(feats), cal["temperature"]), self.distance(feats))

    def classifier(self, system: str) -> Classifier:
        return registry.get(system).classifier(self.info["profile"])


def fall_back(proba: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Class probabilities ``proba`` drawn towards the uniform answer with weight ``1 - exp(-SHRINK (d - 1))``
    for the recordings whose ``distance`` ``d`` exceeds 1 (:meth:`FinalModel.proba`); the top class never changes."""
    keep = np.exp(-SHRINK * np.maximum(0.0, np.asarray(distance, float) - 1.0))[:, None]
    return keep * proba + (1 - keep) / proba.shape[1]


def _standardised(model, X: np.ndarray) -> np.ndarray:
    """``X`` scaled by a fitted model's own input statistics: a :class:`~emolib.systems.portable.LinearModel`'s
    (or a scikit-learn pipeline's) scaler, or the Conv1D's ``mean`` / ``std`` buffers."""
    if hasattr(model, "mean") and hasattr(model, "scale"):
        return (np.asarray(X, float) - model.mean) / model.scale
    if hasattr(model, "steps"):
        return model.steps[0][1].transform(np.asarray(X, float))
    import torch

    mean, std = (model.mean.numpy(), model.std.numpy()) if isinstance(model.mean, torch.Tensor) else (model.mean, model.std)
    return (np.asarray(X, float) - mean) / np.maximum(std, 1e-8)


def _encoder_files(folder: Path) -> list[Path]:
    from ..ssl.encoders import ALL_SPEAKERS, backbone_path

    path = backbone_path(folder, ALL_SPEAKERS)
    return [path.with_suffix(".safetensors"), path.with_suffix(".json")]


def final_encoder(meta: pd.DataFrame, system: str, profile: str, corpus: str, device: str | None = None,
                  progress: bool = True) -> Path:
    """Per-fold system ``system``'s encoder pretrained on every utterance of ``meta`` (the profile's budget and the
    system's learner, as its fold encoders: the report's recipe for ``moco``), under ``<final>/<system>_encoder``;
    pretrained (resumably) when missing."""
    from ..ssl.encoders import ALL_SPEAKERS
    from ..ssl.pretrain import pretrain_fold
    from ..ssl.pretrain_config import profile_config, variant_config

    out = final_dir(corpus, profile) / f"{system}_encoder"
    if not all(p.is_file() for p in _encoder_files(out)):
        cfg = variant_config(registry.get(system).learner, profile_config(profile, keep_epochs=()))
        pretrain_fold(meta, ALL_SPEAKERS, cfg, out, resume="auto", device=device, progress=progress)
    return out


def _out_of_fold(meta: pd.DataFrame, base: fusion.Base) -> np.ndarray:
    """Class probabilities of every utterance from the base system fitted on the other SI-5 folds."""
    from ..data.splits import folds

    y, groups = meta.emotion.astype(str).to_numpy(), meta.speaker.astype(str).to_numpy()
    out = np.zeros((len(meta), len(CLASSES)))
    for f in folds(meta, "si5"):
        X = base.X(f.index)
        out[f.test] = base.fit_proba(X[f.train], y[f.train], groups[f.train], X[f.test])
    return out


def _calibration(meta: pd.DataFrame, oof: list[np.ndarray], banks: dict, stacker) -> dict:
    """What a final model keeps to say how far to trust it: the temperature fitted on the SI-5 out-of-fold
    probabilities of every utterance (a fusion's: of its stacker, itself fitted fold by fold on the other
    folds' out-of-fold base probabilities), the quality measures' training range
    (:func:`emolib.systems.quality.reference`) and each system's feature-distance yardstick
    (:func:`emolib.systems.quality.yardstick` of its bank of standardised training features, ``banks``:
    ``{system: (features, their speakers)}``)."""
    from ..data.audio import load_audio
    from ..data.splits import folds

    y, groups = meta.emotion.astype(str).to_numpy(), meta.speaker.astype(str).to_numpy()
    if stacker is None:
        proba = oof[0]
    else:
        proba = np.zeros_like(oof[0])
        for f in folds(meta, "si5"):
            model = fusion.stacker([p[f.train] for p in oof], y[f.train], groups[f.train])
            proba[f.test] = fusion.stacker_proba(model, [p[f.test] for p in oof])
    alone = {s: quality.leave_speaker_out(bank, who) for s, (bank, who) in banks.items()}
    distance = {s: float(np.percentile(d, quality.QUANTILE)) for s, d in alone.items()}
    # each utterance's distance had its speaker been new (its bank's first rows are the utterances, in order)
    far = np.max([alone[s][:len(meta)] / distance[s] for s in alone], axis=0)
    temperature = fit_temperature(proba, y)
    tempered = temper(proba, temperature)

    def scores(p):
        return {"nll": metrics.nll(y, p), "ece": metrics.ece(y, p), "brier": metrics.brier(y, p)}

    # the temperature is fitted on these same probabilities: "tempered" is an in-sample check, the rows'
    # calibration (fitted inside the training folds) the held-out one
    return {"temperature": temperature, "out_of_fold": scores(proba), "tempered": scores(tempered),
            "with_fall_back": scores(fall_back(tempered, far)), "beyond": float(np.mean(far > 1)),
            "quality": quality.reference([load_audio(p) for p in meta.path]), "distance": distance}


def _out_of_fold_mct(meta: pd.DataFrame, system: str, X: np.ndarray, clf) -> np.ndarray:
    """Class probabilities of every utterance from the system fitted, with multi-condition training, on the other
    SI-5 folds' utterances and their copies."""
    from ..data.splits import folds

    y, groups = meta.emotion.astype(str).to_numpy(), meta.speaker.astype(str).to_numpy()
    out = np.zeros((len(meta), len(CLASSES)))
    for f in folds(meta, "si5"):
        Xt, owner = conditions.with_copies(meta, system, f.train, X[f.train])
        out[f.test] = clf.proba(clf.fit(Xt, y[owner], groups[owner]), X[f.test])
    return out


def build(meta: pd.DataFrame, name: str, speaker_norm: bool = False, profile: str | None = None,
          corpus: str | None = None, encoders=None, device: str | None = None, progress: bool = True,
          log: Callable[[str], None] | None = print) -> Path:
    """Train model ``name`` (:func:`models`) on every utterance of ``meta`` and save it under
    :func:`model_dir`; returns that folder.  ``encoders``: ``{system: folder}`` of the SI-5 fold encoders a model
    with a per-fold system needs for its out-of-fold probabilities (the stacker's data, the calibration's; default:
    the system's own, :meth:`emolib.systems.registry.System.encoders_folder`).  The model keeps its calibration
    (:func:`_calibration`)."""
    from ..ssl.encoders import ALL_SPEAKERS, fold_embeddings

    systems = systems_of(name)
    profile, corpus = env.profile(profile), env.corpus_name(corpus)
    folder = model_dir(name, speaker_norm, corpus, profile)
    log = log or (lambda _: None)
    speakers = meta.speaker.astype(str).to_numpy()
    y = meta.emotion.astype(str).to_numpy()
    norm = (lambda X: speaker_standardize(X, speakers)) if speaker_norm else (lambda X: np.asarray(X, float))
    with metrics.Timer() as t:
        fused = len(systems) > 1
        # the base systems' features: one table for all folds, except an encoder system's (per fold for
        # the stacker's out-of-fold data, pretrained on every speaker for the final fit)
        per_fold = [s for s in systems if registry.get(s).per_fold]
        feats = {s: registry.get(s).corpus_features(meta, progress=progress) for s in systems if s not in per_fold}
        encoder, fold_enc, fold_info, fold_emb = {}, {}, {}, {}
        for s in per_fold:
            from ..ssl.encoders import encoder_summary

            # the out-of-fold data (the stacker's, the calibration's): each SI-5 fold's own encoder, which never
            # heard its test speakers (checked first: its inputs must be of one recording, corpus_features says)
            fold_enc[s] = Path((encoders or {}).get(s) or registry.get(s).encoders_folder(corpus, profile, "si5"))
            fold_info[s] = encoder_summary(fold_enc[s])
            fold_emb[s] = registry.get(s).corpus_features(meta, encoders=fold_enc[s], profile=profile, progress=progress)
            encoder[s] = final_encoder(meta, s, profile, corpus, device, progress)
            feats[s] = fold_embeddings(meta, encoder[s], folds=[ALL_SPEAKERS], progress=progress,
                                       stats=registry.get(s).stats)[ALL_SPEAKERS]
        fitted, oof, banks = {}, [], {}
        mct = bool(MCT.fullmatch(name))
        for s in systems:
            clf = registry.get(s).classifier(profile)
            if mct:  # every utterance and its two multi-condition copies
                X, owner = conditions.with_copies(meta, s, np.arange(len(meta)), feats[s])
                fitted[s] = clf.fit(X, y[owner], speakers[owner])
                banks[s] = (_standardised(fitted[s], X), speakers[owner])
                oof.append(_out_of_fold_mct(meta, s, feats[s], clf))
            else:
                fitted[s] = clf.fit(norm(feats[s]), y, speakers)
                banks[s] = (_standardised(fitted[s], norm(feats[s])), speakers)
                base = fusion.Base(s, fold_emb[s] if s in per_fold else feats[s], clf)
                oof.append(_out_of_fold(meta, fusion.normalised([base], meta, speaker_norm)[0]))
            log(f"{s}: fitted on {len(meta)} utterances of {len(set(speakers))} speakers"
                + (", and two degraded copies of each" if mct else ""))
            log(f"{s}: out-of-fold probabilities for the {'stacker' if fused else 'calibration'} "
                f"(UAR {100 * metrics.uar(y, np.array(CLASSES)[oof[-1].argmax(1)]):.1f} %)")
        stacker = fusion.stacker(oof, y, speakers) if fused else None
        calibration = _calibration(meta, oof, banks, stacker)
        c = calibration
        log(f"calibration: temperature {c['temperature']:.2f} on the SI-5 out-of-fold probabilities: ECE "
            f"{c['out_of_fold']['ece']:.3f}, tempered {c['tempered']['ece']:.3f}, with the fall-back towards even odds "
            f"{c['with_fall_back']['ece']:.3f} ({100 * c['beyond']:.0f} % of the utterances lie beyond the yardstick "
            "from the other speakers')")
    from safetensors.numpy import save

    arrays, kinds = to_arrays(fitted, stacker)
    arrays.update({f"bank.{s}": np.asarray(bank, np.float32).reshape(len(bank), -1) for s, (bank, _) in banks.items()})
    blob = save(arrays)
    row = env.run_dir(env.RESULTS, corpus, "full") / f"{row_name(name, speaker_norm)}.json"
    info = {"format": FORMAT, "version": VERSION, "model": name, "row": row_name(name, speaker_norm),
            "systems": systems, "speaker_norm": speaker_norm, "profile": profile, "corpus": corpus,
            "classes": list(CLASSES), "trained_on": {"utterances": len(meta), "speakers": sorted(set(speakers))},
            "row_uar": json.loads(row.read_text())["uar"] if row.is_file() and env.level(profile) == "full" else None,
            "stacker": {"C": float(stacker.C)} if fused else None, "parameters": kinds, "calibration": calibration,
            "encoders": {s: {"folder": env.repo_relative(e), "sha256": [sha256_file(p) for p in _encoder_files(e)]}
                         for s, e in encoder.items()},
            "fold_encoders": {s: {"folder": env.repo_relative(fold_enc[s]), "sha256": fold_info[s]["sha256"]}
                              for s in fold_enc},
            "sha256": hashlib.sha256(blob).hexdigest(), "wall_s": round(t.seconds, 1),
            **results.provenance(), "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    atomic_write(folder / "model.safetensors", blob)  # the JSON last: a folder without it is not a model
    atomic_write(folder / "model.json", (json.dumps(info, indent=1) + "\n").encode())
    log(f"{info['row']}: saved to {env.repo_relative(folder)} ({t.seconds:.0f} s)")
    return folder


def load(name: str, speaker_norm: bool = False, corpus: str | None = None, profile: str | None = None,
         device: str = "cpu") -> FinalModel:
    """The saved model, its files checked against their recorded SHA-256; a missing or changed model is
    a one-line error with the command that builds it."""
    systems_of(name)
    folder = model_dir(name, speaker_norm, corpus, profile)
    how = build_command(name, speaker_norm, profile)
    info_path, blob_path = folder / "model.json", folder / "model.safetensors"
    if not info_path.is_file() or not blob_path.is_file():
        raise EmolibError(f"no trained model {row_name(name, speaker_norm)} in {env.repo_relative(folder)}; "
                          f"build it first: {how}")
    try:
        info = json.loads(info_path.read_text())
    except ValueError:
        raise EmolibError(f"{info_path}: not valid JSON; build the model again: {how}") from None
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise EmolibError(f"{info_path}: written by another version of emolib; build the model again: {how}")
    if sha256_file(blob_path) != info["sha256"]:
        raise EmolibError(f"{blob_path}: its content does not match model.json's SHA-256; build the model again: {how}")
    from safetensors.numpy import load as load_arrays

    arrays = load_arrays(blob_path.read_bytes())
    models = from_arrays(arrays, info["parameters"])
    banks = {k.removeprefix("bank."): v for k, v in arrays.items() if k.startswith("bank.")}
    encoders = {}
    for s, recorded in info["encoders"].items():
        from ..ssl.encoders import ALL_SPEAKERS, load_encoder, speaker_input

        enc = Path(recorded["folder"])
        enc = enc if enc.is_absolute() else env.REPO / enc
        files = _encoder_files(enc)
        if [sha256_file(p) if p.is_file() else None for p in files] != recorded["sha256"]:
            raise EmolibError(f"{files[0]}: the {s} encoder is missing or not the one {row_name(name, speaker_norm)} "
                              f"was fitted on; build the model again: {how}")
        encoders[s] = load_encoder(enc, ALL_SPEAKERS, device=device)
        if speaker_input(encoders[s][1]):  # FinalModel.features standardises with the encoder's corpus statistics
            raise EmolibError(f"{files[1]}: pretrained on per-speaker inputs, which final models do not support; "
                              f"build the model again: {how}")
    stacker = models.pop("stacker", None)
    return FinalModel(info, models, stacker, encoders, banks)
