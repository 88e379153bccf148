"""Measuring: metrics under the protocols, the results store and its run names, encoder probes and
fine-tuning, and the tables drawn from the rows.

- ``metrics``   UAR / WA / F1, cross-validation on the training speakers only, choosing inside them
- ``calibration`` temperature scaling fitted on the training speakers only (inner folds), before and after
- ``runs``      the grammar of run names (``<stem>[_<tag>][_seed<S>][_spknorm][_<protocol>]``)
- ``results``   the results store: the one row writer (every row's settings under ``config``), reading, checking
- ``tables``    the tables of the rows as a whole: the headline, all rows, probes, calibration, run times
- ``study_tables`` the studies' summaries laid out as Markdown (ablation, seeds, fusion, EmoBox, robustness, learners)
- ``probes``    linear probes of frozen embeddings over the folds, their rows, 5-NN diagnostics
- ``knowledge`` what an embedding knows: label-free properties of each utterance read back on held-out speakers
- ``finetune``  the ViT fine-tuned end to end on a protocol's folds

May import: ``core``, ``data``, ``augmentation``, ``models``, and of ``ssl`` only what reads encoders
(never ``ssl.pretrain`` or ``ssl.moco``).
"""
