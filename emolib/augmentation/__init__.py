"""Augmentations and MoCo's two views, each augmentation a small function or torch module.

- ``report``       the report's waveform augmentations (noise, time stretch, shift, pitch shift), seeded, and
  their log-mel variants precomputed through the feature cache
- ``spectrogram``  batched spectrogram augmentations as tiny torch modules (crops, gain, log-mixup-exp, masks,
  mel-axis and source-filter warps, normalisation)
- ``views``        MoCo's two views of one utterance by recipe, and how recognisable the pairs are
- ``degrade``      recordings as users bring them: telephone, noise at an SNR, rooms, lossy codecs, gain and
  clipping, each seeded and measured; the multi-condition training families
- ``catalog``      every augmentation by name with its parameters, as the explorer widget plays them

May import: ``core``, ``data``.
"""
