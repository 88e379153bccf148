"""emolib: the data, model and training code behind the emolib notebooks.

Self-supervised speech emotion recognition on EmoDB (Burkhardt et al., 2005), evaluated
speaker-independently (SI-5, docs/protocol.md).  The subpackages, from the ground up; each may import
only those above it in this list (``tests/test_layout.py`` checks it, and that no module imports another
in a circle):

- ``core``          the run's profile, corpus, device and folders; every budget; errors; atomic files
- ``data``          EmoDB, its folds (SI-5, LOSO, EmoBox, the report's leaky split), audio, front-ends
- ``plots``         the figures (they draw what they are given)
- ``augmentation``  the report's waveform augmentations, spectrogram ones, MoCo's two views
- ``models``        the ViT, the report's Conv1D, the shared learning-rate schedule
- ``ssl``           MoCo v3 and its pretraining: options against the speaker shortcut, checkpoints, encoders
- ``evaluation``    metrics, the results store and its run names, probes, fine-tuning, tables of the rows
- ``systems``       the registry of systems, the baselines, the stacked fusion, final models, ``predict``
- ``studies``       the notebooks' experiments as functions (segments, probing, ablation, EmoBox)
- ``app``           the main job (``reproduce``), the generated pages, benchmarks, widgets
- ``cli``           ``python -m emolib <command>``: one module per command

Each subpackage's docstring lists its modules and what it may import; docs/design.md draws the map.
"""
__version__ = "0.1.0"
