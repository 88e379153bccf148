"""Every profile's budgets and quality-check floors in one place (docs/profiles.md).

A profile is chosen by ``EMOLIB_PROFILE`` or ``--profile`` (:func:`emolib.core.env.profile`):

- ``smoke``: the same code paths with tiny budgets (what the tests and CI run); every study runs,
  the long ones included, so CI exercises their code.
- ``full``: the real run, the committed rows, under an hour of the pipeline on a 2-core CPU
  (``results/timings.json`` holds the measured minutes).
  The studies in :data:`LONG_STUDIES` are *not* re-run: the notebooks read their committed rows.
- ``extended``: ``full``'s budgets plus the long studies, which write the same rows (same run
  names) as before.

Tables are keyed by budget *level* (:func:`emolib.core.env.level`): ``smoke``, or ``full`` for both
``full`` and ``extended``.  The modules read their budgets through small accessors
(``ssl.pretrain_config.profile_config``, ``evaluation.probes.budget``, ``evaluation.finetune.finetune_config``,
``models.cnn.budget``, ``models.cnn.report_budget``); a flag on the command line overrides a single value.
"""
from __future__ import annotations

from . import env

#: MoCo v3 pretraining (:class:`emolib.ssl.pretrain_config.PretrainConfig` fields); ``full`` fits a 2-core CPU
#: in minutes per fold.
PRETRAIN = {
    "smoke": dict(depth=2, epochs=2, batch_size=32, moco_mlp_dim=256, moco_dim=64, variants=1,
                  warmup_epochs=1, save_every=1, knn_every=1, keep_epochs=(1,)),
    "full": dict(depth=6, epochs=40, batch_size=64, moco_mlp_dim=1024, variants=4, lr=2e-3,
                 warmup_epochs=5, save_every=5, knn_every=5, keep_epochs=(5, 10, 20)),
}

#: The pretext of the default encoder, the one notebook 03 pretrains and notebook 04 probes, fine-tunes
#: and draws the report's Figure 5 for: a variant of :data:`emolib.ssl.shortcut.VARIANTS`, the pretext
#: ablation's best (notebook 07): a vocal-tract-length warp of each view and per-speaker input
#: statistics, which halves the speaker 5-NN accuracy of the recipe's encoders.  Its probes use each
#: held-out speaker's own unlabelled audio, so they are speaker-normalised rows.  The report's recipe
#: (``"report"``) stays the ``moco`` system of the fusion, the final models and the EmoBox comparison,
#: which need raw embeddings of one recording.
DEFAULT_PRETEXT = "warp_speaker_input"

#: The grid of the logistic-regression probe's C, chosen by inner leave-speakers-out CV.
LOGREG_C = (0.01, 0.1, 1.0)

#: Notebook 04's probes and its batch-size study (fold 0, a shorter pretraining than the main one).
PROBE = {
    "smoke": dict(logreg_C=(1.0,), head_epochs=10, batch_sizes=(32, 64, 128, 256), batch_epochs=1),
    "full": dict(logreg_C=LOGREG_C, head_epochs=100, batch_sizes=(32, 64, 128, 256), batch_epochs=10),
}

#: Fine-tuning the ViT end to end (:class:`emolib.evaluation.finetune.FinetuneConfig` fields).
FINETUNE = {"smoke": dict(epochs=1, crops_per_epoch=1), "full": dict(epochs=20)}

#: The Conv1D of the segment study (:class:`emolib.models.cnn.TrainConfig` fields; each epoch draws
#: ``epoch_samples`` segments): one budget for every segment length and protocol, so the study
#: compares like with like, and small enough for its 55 trainings on a 2-core CPU.
CONV1D = {
    "smoke": dict(epochs=2, epoch_samples=128, batch_size=32),
    "full": dict(epochs=20, epoch_samples=384),
}

#: The report's kind of Conv1D training, for its Table 3 on its leaky split: every epoch a full pass
#: over the training segments in batches of 32 (Keras's ``fit`` default).  At 128 ms that is 9,100
#: segments an epoch (18,000 with segments overlapping by half), so only the nine leaky trainings
#: get it, in the ``extended`` profile (:data:`LONG_STUDIES`).  Smoke keeps a token.
CONV1D_REPORT = {
    "smoke": dict(epochs=1, epoch_samples=192, batch_size=32),
    "full": dict(epochs=30, epoch_samples=None, batch_size=32),
}

#: Studies that only ``smoke`` (tiny) and ``extended`` (real budget) run; ``full`` reads their
#: committed rows.  Name -> what it is.
LONG_STUDIES = {
    "report_budget": "notebook 05: the report's Table 3 retrained with its kind of training "
                     "(rows cnn_leaky_<len>_report_budget and cnn_leaky_<len>_overlap50)",
    "robustness": "notebook 06: every system on degraded held-out speakers, trained clean and multi-condition "
                  "(rows robust_<system>[_mct]_<condition>; python -m emolib robustness [--mct])",
}

#: The robustness study's size: which systems (None: all), which conditions (None: all), how many utterances
#: of each speaker (None: all).  Smoke keeps a token of it: one system, the three target conditions, ten
#: utterances a speaker.
ROBUSTNESS = {"smoke": dict(systems=("egemaps",), conditions=("telephone", "babble_10db", "reverb_0.6s"),
                            per_speaker=10),
              "full": dict(systems=None, conditions=None, per_speaker=None)}

#: Notebook 02's view study: augmented variants per view, and how many utterances of each emotion
#: (``None``: all of them).
VIEW_STUDY = {"smoke": dict(variants=1, per_emotion=10), "full": dict(variants=4, per_emotion=None)}

#: The floors of the notebooks' quality checks (:func:`check`): the value each checked number must
#: exceed, per budget level.  They catch a broken pipeline (chance UAR is 1/7 = 0.143); they are
#: not targets.  One smoke fine-tuning epoch learns nothing reliable: there only well-formed
#: predictions are checked (a floor of 0).
CHECKS = {
    "smoke": dict(knn_monitor_uar=0.16, probe_uar=0.2, finetune_uar=0.0, cnn_uar=1 / 7, baseline_uar=0.4,
                  ablation_uar=0.2),
    "full": dict(knn_monitor_uar=0.25, probe_uar=0.5, finetune_uar=0.4, cnn_uar=0.55, baseline_uar=0.75,
                 ablation_uar=0.45),
}

#: Per-cell timeout of the notebooks, in seconds, per profile: a smoke cell takes seconds to a
#: minute; the longest extended cell (the report-budget retrainings) about 80 min on a 2-core CPU.
CELL_TIMEOUT = {"smoke": 900, "full": 2 * 3600, "extended": 4 * 3600}


def budget(table: dict, profile: str | None = None) -> dict:
    """A copy of ``table``'s entry for the profile's budget level."""
    return dict(table[env.level(profile)])


def runs(study: str, profile: str | None = None) -> bool:
    """Whether the profile re-runs the long study ``study`` (else its committed rows are read)."""
    if study not in LONG_STUDIES:
        raise KeyError(f"no long study {study!r}; known: {', '.join(LONG_STUDIES)}")
    return env.profile(profile) in ("smoke", "extended")


def check(name: str, profile: str | None = None) -> float:
    """The floor of the quality check ``name`` (:data:`CHECKS`) for the profile's budget level."""
    floors = CHECKS[env.level(profile)]
    if name not in floors:
        raise KeyError(f"no quality check {name!r}; known: {', '.join(floors)}")
    return floors[name]
