"""emolib: the data, feature, model and training code behind the emolib notebooks.

Self-supervised speech emotion recognition on EmoDB (Burkhardt et al., 2005), evaluated
speaker-independently (SI-5).  Modules, one concept each:

- ``emodb``      EmoDB's facts: emotions, speakers, texts, the file-name grammar, the folder layout
- ``corpus``     finding the corpus and its metadata table (``load_corpus``)
- ``download``   the SHA-256 manifest, verifying a copy, the download with its zip-safety checks
- ``audio``      loading audio as 16 kHz mono float32 with clear errors
- ``synthetic``  a deterministic EmoDB-shaped corpus for tests and offline demos
- ``features``   the log-mel front-end, its on-disk cache and normalisation statistics
- ``files``      content hashes and atomic writes
- ``splits``     SI-5 and LOSO speaker folds, and the report's (leaky) random split
- ``waveform``   the report's waveform augmentations and their cached log-mel variants
- ``augment``    spectrogram-domain augmentations (tiny torch modules: crop, gain, mixup, warps, masks…)
- ``views``      MoCo's two views: recipes, ``TwoViews``, the view-agreement measure
- ``vit``        timm ViTs on log-mels: creation, safetensors export, official MoCo v3 import, embeddings
- ``moco``       MoCo v3: encoders, momentum, symmetric InfoNCE, schedules (the method on one screen)
- ``pretext``    pretext options against the speaker shortcut: speaker batches, per-speaker statistics, adversary
- ``pretrain_config``  a pretraining run's settings, a profile's budget with a pretext variant, encoder folders
- ``pretrain``   pretraining runs per SI-5 fold: the training loop on CPU / GPU / torchrun
- ``pretrain_inputs``  what a fold's pretraining reads (log-mels, statistics, two views) and its k-NN monitor
- ``checkpoints`` pretraining checkpoints: exact-resume state, written atomically, checked on resume
- ``encoders``   the fold encoders on disk (the checkpoint layout), loading them, their embeddings
- ``probes``     linear probes of frozen embeddings over the folds, their rows, 5-NN diagnostics
- ``finetune``   the ViT fine-tuned end to end (from MoCo v3 weights or from scratch)
- ``studies``    notebook 04's studies: the probe table, fine-tuning vs scratch, epochs and batch size
- ``ablation``   the pretext ablation: each variant pretrained, probed and measured on all folds
- ``fusion``     the best system: stacked fusion of the systems below, nested inside each fold
- ``final``      a results system trained on every speaker, saved and checked (``train-final``)
- ``portable``   fitted models as plain arrays (no pickles)
- ``predict``    emotion predictions for any recording, whole or in windows (``predict``)
- ``emobox``     the systems on EmoBox's speaker-dependent folds, beside SI-5
- ``evaluation`` UAR / WA / F1, cross-validation on the training speakers only
- ``results``    the results store (``results/``): the one row writer, tables, ``--verify``
- ``cnn``        the report's Conv1D classifier (581,063 parameters) and its training loop
- ``segments``   the report's 173 descriptors per segment and its segment study
- ``baselines``  openSMILE eGeMAPS / ComParE functionals with linear classifiers
- ``plots``, ``widgets``  figures, the utterance player, the augmentation explorer and "Try it"
- ``reproduce``  runs the numbered notebooks in order (``python -m emolib reproduce``)
- ``readme``     the README's generated tables, rewritten from the rows (``results --readme``)
- ``bench``, ``cli``, ``commands``  benchmarks, the command line's options (``python -m emolib …``) and
  what each command does

Underneath them: ``config`` (profile, corpus and cache from the environment), ``settings`` (every
profile's budgets and quality-check floors), ``devices`` (where torch trains), ``steps`` (one log line
per training), ``errors`` (the errors a user can fix).  No module imports another in a circle
(``tests/test_layout.py``).
"""
__version__ = "0.1.0"
