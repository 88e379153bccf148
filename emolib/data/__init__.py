"""EmoDB and what is computed from its audio before any learning.

- ``emodb``       the corpus's facts: emotions, speakers, texts, the file-name grammar
- ``corpus``      finding the corpus and its metadata table (``load_corpus``)
- ``download``    the SHA-256 manifest, verifying a copy, the download with its zip-safety checks
- ``audio``       loading audio as 16 kHz mono float32 with clear errors
- ``synthetic``   a deterministic EmoDB-shaped corpus for tests and offline demos
- ``splits``      the protocols' folds: SI-5 (the headline), LOSO, EmoBox's, and the report's leaky split
- ``features``    the log-mel front-end, its content-keyed on-disk cache, normalisation statistics
- ``descriptors`` the report's 173 descriptors per frame and their segment means
- ``opensmile``   openSMILE eGeMAPS / ComParE functionals, one vector per utterance

It also ships the package data: ``emodb_manifest.csv``, EmoBox's EmoDB folds and leaderboard.
May import: ``core``.
"""
