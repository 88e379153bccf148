"""Figures used by the notebooks.  Each function draws on a given (or new) axes and returns
the figure; :func:`save` writes it to ``figures/``.  One module per subject, every figure
importable from here (``plots.confusion_heatmap``):

- ``data``        the corpus, its log-mels and the pretraining views
- ``training``    loss and pretraining curves, the probe against pretraining, the segment study
- ``embeddings``  t-SNE maps, the pretext map, seeds' spread, encoders side by side
- ``systems``     confusions, recalls, the protocol gap, a prediction, the error analysis
"""
from .base import EMOTION_COLORS, save
from .data import (
    emotion_distribution, speaker_emotion_heatmap, duration_by_emotion, waveform_and_logmel,
    logmel_grid, view_agreement, source_filter, batch_composition, speaker_spectra)
from .training import segment_study, loss_curves, pretraining_curves, probe_vs_pretraining, ablation_curves
from .embeddings import tsne, embedding_maps, pretext_map, seed_spread, side_by_side
from .systems import (
    confusion_heatmap, recall_comparison, protocol_gap, prediction, error_analysis,
    system_comparison)

__all__ = [
    "EMOTION_COLORS", "save", "ablation_curves", "batch_composition", "confusion_heatmap",
    "duration_by_emotion", "embedding_maps", "emotion_distribution", "error_analysis", "logmel_grid",
    "loss_curves", "prediction", "pretext_map", "pretraining_curves", "probe_vs_pretraining",
    "protocol_gap", "recall_comparison", "seed_spread", "segment_study", "side_by_side",
    "source_filter", "speaker_emotion_heatmap", "speaker_spectra", "system_comparison", "tsne",
    "view_agreement", "waveform_and_logmel"]
