"""Figures used by the notebooks.  Each function draws on a given (or new) axes and returns
the figure; :func:`save` writes it to ``figures/``.  One module per subject, every figure
importable from here (``plots.confusion_heatmap``):

- ``base``        colours, axes and :func:`save` (into ``figures/``)
- ``data``        the corpus, its log-mels and the pretraining views
- ``training``    loss and pretraining curves, the probe against pretraining, the segment study
- ``embeddings``  t-SNE maps, the pretext map, seeds' spread, encoders side by side, what embeddings know
- ``systems``     confusions, recalls, the protocol gap, a prediction, the error analysis
- ``trust``       the reliability diagram, UAR under degraded audio

May import: ``core``, ``data`` (a figure draws what it is given; it computes nothing of the models).
"""
from .base import EMOTION_COLORS, save
from .data import (
    batch_composition,
    duration_by_emotion,
    emotion_distribution,
    logmel_grid,
    source_filter,
    speaker_emotion_heatmap,
    speaker_spectra,
    view_agreement,
    waveform_and_logmel,
)
from .embeddings import embedding_maps, knowledge_map, learner_study, pretext_map, seed_spread, side_by_side, tsne
from .systems import confusion_heatmap, error_analysis, prediction, protocol_gap, recall_comparison, system_comparison
from .training import ablation_curves, loss_curves, pretraining_curves, probe_vs_pretraining, segment_study
from .trust import reliability, robustness

__all__ = [
    "EMOTION_COLORS", "save", "ablation_curves", "batch_composition", "confusion_heatmap",
    "duration_by_emotion", "embedding_maps", "emotion_distribution", "error_analysis", "knowledge_map", "learner_study", "logmel_grid",
    "loss_curves", "prediction", "pretext_map", "pretraining_curves", "probe_vs_pretraining",
    "protocol_gap", "recall_comparison", "reliability", "robustness", "seed_spread", "segment_study", "side_by_side",
    "source_filter", "speaker_emotion_heatmap", "speaker_spectra", "system_comparison", "tsne",
    "view_agreement", "waveform_and_logmel"]
