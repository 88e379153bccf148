"""Speed benchmarks (``python -m emolib bench NAME``): each compares a baseline with ours in
one process on one machine and ends with one JSON line, so numbers are ratios, not timings
that depend on the machine.

- ``features``: the first pass over the corpus through an empty feature cache (hash,
  decode, log-mel, write) against a second pass by a new cache object, as a later notebook
  or process would make it (index lookup, read, checksum).  Target: second pass ≥ 10× faster.
"""
from __future__ import annotations

import json
import tempfile
import time

import numpy as np

from .corpus import load_corpus
from .features import FeatureCache, LogMelConfig, log_mels


def bench_features(args) -> dict:
    meta = load_corpus(args.corpus, args.root)
    paths = list(meta.path)
    log_mels(paths[:2], cache=False, progress=False)  # warm up imports and the FFT
    with tempfile.TemporaryDirectory(prefix="emolib-bench-") as tmp:
        cache = FeatureCache(LogMelConfig(), root=tmp)
        t0 = time.perf_counter()
        first = log_mels(paths, cache=cache, progress=False)
        t1 = time.perf_counter()
        second = log_mels(paths, cache=FeatureCache(LogMelConfig(), root=tmp), progress=False)
        t2 = time.perf_counter()
    if not all(np.array_equal(a, b) for a, b in zip(first, second)):
        raise RuntimeError("the feature cache returned arrays that differ from the computed ones")
    return {"benchmark": "features", "files": len(paths), "first_pass_s": round(t1 - t0, 3),
            "second_pass_s": round(t2 - t1, 3), "speedup": round((t1 - t0) / (t2 - t1), 1)}


def run(name: str, args) -> int:
    result = {"features": bench_features}[name](args)
    print(f"{result['files']} files: first pass {result['first_pass_s']} s, second pass "
          f"{result['second_pass_s']} s -> {result['speedup']}x faster")
    print(json.dumps(result))
    return 0
