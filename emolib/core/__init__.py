"""The ground floor: what every other subpackage may use, and which imports nothing else of emolib.

- ``env``      the run's profile, corpus and device from the environment, and where files go (``results/``,
  ``figures/``, the cache; ``run_dir`` keeps smoke and synthetic runs away from the committed ones)
- ``budgets``  every profile's budgets and the notebooks' quality-check floors (docs/profiles.md)
- ``devices``  ``--device`` / ``EMOLIB_DEVICE`` resolved once for every torch training
- ``errors``   the errors a user can fix (printed as one line by the command line)
- ``files``    content hashes and atomic writes
- ``steps``    one log line per finished training, for the main job's output

May import: nothing of emolib outside ``core``.
"""
