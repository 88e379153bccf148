"""Self-supervision: MoCo v3 on log-mels, pretrained per fold on the training speakers only.

- ``moco``            MoCo v3 on one screen: encoders, momentum, symmetric InfoNCE, schedules, LARS
- ``pretrain_config`` a pretraining run's settings (``PretrainConfig``), a profile's budget with a variant,
  the encoders' folders, ``--fold``
- ``shortcut``        the speaker shortcut and the pretext options against it: named variants
- ``batches``         speaker / gender batches
- ``adversary``       the gradient-reversed speaker head
- ``standardize``     how an encoder's log-mels are standardised (corpus, speaker, file): ``encoder_inputs``
- ``inputs``          what one fold's pretraining reads (log-mels, statistics, two views), its k-NN monitor
- ``checkpoints``     exact-resume checkpoints, written atomically, checked on resume
- ``pretrain``        the training loop per fold on CPU / GPU / ``torchrun``
- ``encoders``        the fold encoders on disk (the one place that knows the layout), loading, embeddings

May import: ``core``, ``data``, ``augmentation``, ``models``.  What evaluates an encoder (``encoders``,
``standardize``, ``pretrain_config``) imports nothing that trains (``pretrain``, ``moco``).
"""
