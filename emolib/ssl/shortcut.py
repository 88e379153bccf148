"""Pretext-task options that deny MoCo the speaker shortcut (flags of ``python -m emolib pretrain``).

Two views of one utterance share the speaker's voice, while in-batch negatives from other
speakers differ from it in voice: instance discrimination can be solved by *who is speaking*
(notebook 04 measures it: 5-NN on the embeddings finds the speaker more often than the emotion).
Each option below takes that cue away in one way; ``emolib.studies.ablation`` compares them.

- ``batch_by`` (:func:`epoch_batches`): ``"none"`` mixes all training speakers in a batch (as
  before); ``"speaker"`` fills each batch with one training speaker's utterances, ``"gender"`` with
  those of one gender's training speakers, so the negatives share the voice (or its broad class)
  and only what differs between one person's utterances — sentence and emotion — separates them.
- ``input_norm`` (:func:`speaker_standardizers`): ``"global"`` standardises every log-mel with the
  fold's training statistics; ``"speaker"`` with its own speaker's statistics (that speaker's
  unlabelled audio only; for a held-out speaker at embedding time too, so such probes are
  speaker-normalised rows); ``"utterance"`` first removes each log-mel's own mean per band over
  its frames (:func:`centre_utterances`: that file's long-term spectrum, which holds the voice's
  timbre, and its level; no other file's statistics), then standardises with the fold's training
  statistics of the centred log-mels, so its probes stay raw rows.  The milder cousin of the
  per-utterance *standardisation* that stalled learning in an outside experiment: the spread of
  each band over time, which carries the prosody, is kept.  ``"shape"`` is milder still
  (:func:`flatten_utterances`): it removes only what of that long-term spectrum a straight line
  over the bands does not explain, so each file keeps its level and spectral tilt (both carry
  arousal) and loses the finer shape of its long-term spectrum (the voice's formant pattern).
- ``adversary`` (:class:`SpeakerAdversary`): a head that predicts the *training speaker* from the
  backbone's output through a gradient reversal, so the backbone is pushed to forget the speaker.
  It never sees an emotion label.
- The view options live in :mod:`emolib.augmentation.views` and :mod:`emolib.augmentation.spectrogram`: ``warp`` (formants and
  harmonics moved together, :class:`emolib.augmentation.spectrogram.MelWarp`), ``formant`` and ``pitch`` (moved
  apart, :class:`emolib.augmentation.spectrogram.SourceFilterWarp`), each on both views or on view 2 only
  (``warp_views``), and time crops of the clean log-mel (``aug="crop"``).
"""
from __future__ import annotations

#: The pretext options, as fields of ``emolib.ssl.pretrain_config.PretrainConfig`` (whose defaults are the recipe's).
OPTIONS = ("batch_by", "input_norm", "warp", "formant", "pitch", "warp_views", "adversary")
#: Their defaults: the report's recipe (mixed batches, corpus-wide statistics, no warp, no
#: adversary); ``PretrainConfig``'s fields default to these.
DEFAULTS = {"batch_by": "none", "input_norm": "global", "warp": 0.0, "formant": 0.0, "pitch": 0.0,
            "warp_views": "both", "adversary": 0.0}
#: Named sets of pretext options (the ablation's variants, :mod:`emolib.studies.ablation`), each the change from
#: the report's recipe (:data:`DEFAULTS`; ``aug`` picks the views).  Flags of ``python -m emolib pretrain``
#: of the same names; ``--variant NAME`` takes a whole set.  :data:`emolib.core.budgets.DEFAULT_PRETEXT`
#: names the one notebook 03 pretrains.
VARIANTS: dict[str, dict] = {
    "report": {},                                             # the report's recipe
    "crop": dict(aug="crop"),                                 # time crops of the clean log-mel only
    "speaker_batches": dict(batch_by="speaker"),
    "gender_batches": dict(batch_by="gender"),
    "warp": dict(warp=0.15),                                  # each view its own warp
    "warp_one_view": dict(warp=0.15, warp_views="one"),
    "speaker_input": dict(input_norm="speaker"),
    "adversary": dict(adversary=0.3),
    "adversary_strong": dict(adversary=1.0),
    "warp_speaker_batches": dict(warp=0.15, batch_by="speaker"),
    "warp_speaker_input": dict(warp=0.15, input_norm="speaker"),
    "warp_speaker_input_batches": dict(warp=0.15, input_norm="speaker", batch_by="speaker"),
    "warp_adversary": dict(warp=0.15, adversary=0.3),
    "formant": dict(formant=0.15),                            # the envelope alone: pitch kept
    "pitch": dict(pitch=0.15),                                # the harmonics alone: formants kept
    "formant_pitch": dict(formant=0.15, pitch=0.15),          # both, each with its own factor
    "formant_pitch_speaker_input": dict(formant=0.15, pitch=0.15, input_norm="speaker"),
    "utterance_mean": dict(input_norm="utterance"),           # each file centred on itself: raw rows
    "warp_utterance_mean": dict(warp=0.15, input_norm="utterance"),
    "utterance_shape": dict(input_norm="shape"),              # level and tilt kept: raw rows
}



def variant_of(options: dict, aug: str = "report") -> str | None:
    """The name in :data:`VARIANTS` of a set of pretext options (an encoder's, as
    :func:`emolib.ssl.encoders.encoder_summary` gives them) and views, or None when no variant has them."""
    have = {**{k: options.get(k, d) for k, d in DEFAULTS.items()}, "aug": options.get("aug", aug)}
    for name, changes in VARIANTS.items():
        if have == {**DEFAULTS, "aug": "report", **changes}:
            return name
    return None


#: Other learners, named the same way (the learners' study, :mod:`emolib.studies.ablation`): the report's views
#: and budget with another encoder (a small CNN, :data:`emolib.models.archs.CNNS`), another objective
#: (:data:`OBJECTIVES`) or signal-derived targets (:data:`TARGETS`; no emotion label anywhere), each the change
#: from :data:`LEARNER_DEFAULTS`.  ``sig_only`` rows are the targets without any other objective.
LEARNER_DEFAULTS = {"objective": "moco", "targets": "none"}
LEARNERS: dict[str, dict] = {
    "cnn": dict(arch="resnet10t_half"),
    "cnn_sig": dict(arch="resnet10t_half", targets="functionals"),
    "cnn_sig_only": dict(arch="resnet10t_half", objective="none", targets="functionals"),
    "cnn_frames": dict(arch="resnet10t_half", targets="frames"),
    "cnn_sig_frames": dict(arch="resnet10t_half", targets="both"),
    "cnn_sig_frames_only": dict(arch="resnet10t_half", objective="none", targets="both"),
    "sig": dict(targets="functionals"),
    "masked": dict(objective="masked"),
    "moco_masked": dict(objective="both"),
}

BATCH_BY = ("none", "speaker", "gender")
#: The pretraining objectives (:class:`emolib.ssl.moco.MoCo`): contrastive, masked prediction of log-mel
#: patches, both, or none (the signal-derived targets alone).
OBJECTIVES = ("moco", "masked", "both", "none")
#: Targets computed from the signal that pretraining may also regress (no emotion label): none, each utterance's
#: eGeMAPS functionals standardised per training speaker (:func:`emolib.ssl.inputs.functional_targets`), its eGeMAPS
#: frame descriptors likewise (:func:`emolib.ssl.inputs.frame_targets`), or both.
TARGETS = ("none", "functionals", "frames", "both")
INPUT_NORM = ("global", "speaker", "utterance", "shape")
