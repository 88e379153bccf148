"""The notebooks' experiments as library functions: each trains, writes its results rows and returns
what a notebook shows.

- ``segments``  notebook 05: the report's Conv1D at every segment length, leaky split against SI-5
- ``probing``   notebook 04: the probe table, fine-tuning against scratch, the report's Figure 5, encoders
  side by side
- ``ablation``  notebook 07: the pretext ablation, every variant pretrained, probed and measured
- ``learners``  notebook 07: what each learner's embeddings know (pitch, loudness, rate, voice quality, speaker)
- ``robustness`` notebook 06: every system on degraded held-out speakers, clean and multi-condition trained
- ``emobox``    notebook 08: the systems on EmoBox's speaker-dependent folds beside SI-5

May import: ``core``, ``data``, ``augmentation``, ``models``, ``ssl``, ``evaluation``, ``systems``.
"""
