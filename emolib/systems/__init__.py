"""The systems: every way a recording becomes seven class probabilities, and what serves them.

- ``registry``     the systems by name (openSMILE + classifier, Conv1D, MoCo probe; fusions of any subset):
  how each builds its features and its classifier, and which results row measures it
- ``classifiers``  the systems' classifiers in two steps (fit, probabilities)
- ``baselines``    openSMILE functionals with linear classifiers: the field's anchors and their rows
- ``fusion``       stacked fusion of registered systems, nested inside each fold
- ``conditions``   a system's inputs under a degradation, and its multi-condition training copies
- ``quality``      a recording's quality line (duration, speech, SNR, bandwidth, clipping) and how unlike EmoDB it is
- ``final``        a system trained on every speaker, saved as plain arrays, checked on loading
- ``portable``     fitted linear models as plain arrays (no pickles)
- ``predict``      the emotion of any recording, whole or in windows

May import: ``core``, ``data``, ``augmentation``, ``models``, ``ssl``, ``evaluation``.
"""
