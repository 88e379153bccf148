"""Speed benchmarks (``python -m emolib bench NAME``): each compares a baseline with ours in
one process on one machine and ends with one JSON line, so numbers are ratios, not timings
that depend on the machine.

- ``features``: the first pass over the corpus through an empty feature cache (hash,
  decode, log-mel, write) against a second pass by a new cache object, as a later notebook
  or process would make it (index lookup, read, checksum).  Target: second pass ≥ 10× faster.
- ``augment``: MoCo two-view pairs per second on the same utterances, (a) the report's pipeline
  (librosa noise+stretch and shift+pitch on the fly, a 128-band mel spectrogram in dB of each,
  resized to 224×224, copied to 3 channels, ImageNet-normalised) against (b) ours
  (:class:`~emolib.augmentation.views.TwoViews`, recipe ``report+byol-a``: cached report variants plus
  batched spectrogram augmentations, on the CPU).  Building the variant cache is a one-off
  cost, like the log-mels' (it is timed and printed, not part of the rate).  Target: ≥ 50×.  With the
  default settings on EmoDB it writes its JSON line to ``results/bench_augment.json`` (notebook 02 and
  docs/methods.md read it).
- ``pretrain``: MoCo v3 pretraining samples per second, (a) the report's pipeline per sample (its two
  waveform views made on the fly with librosa, each a 224×224 dB mel image, and a ViT-S/16 step with
  its momentum encoder; the report's three identical channels enter as one, which changes nothing but
  the patch embedding's input) against (b) ours (cached variants and batched spectrogram views of
  1×64×96 crops, the ``full`` profile's ViT and batch), both with AdamW on the CPU; and the peak resident
  memory of the process after our steps at batch 256 (its peak so far: the corpus, the caches and both
  batch sizes included; measured before the baseline runs).  With the default settings on EmoDB it
  writes the JSON line to ``results/bench_pretrain.json`` (the file docs/methods.md quotes).  Targets:
  speedup ≥ 20, peak RSS ≤ 4 GB.
- ``predict``: ``python -m emolib predict`` on every file of the corpus in one call (reading, features,
  the trained model of ``train-final``), with one feature process against all cores.  Target: the
  535 EmoDB files in under 30 s on a 2-core CPU.  With ``--speaker-norm`` all files are normalised as one
  speaker's: a timing only, not meaningful predictions.
"""
from __future__ import annotations

import json
import tempfile
import time

import numpy as np

from ..data.corpus import load_corpus
from ..data.features import FeatureCache, LogMelConfig, log_mels


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


def report_pair(y: np.ndarray, rng: np.random.Generator, recipe):
    """The report's pipeline for one utterance: both views, each a 3 x 224 x 224 tensor image."""
    import librosa
    import torch
    import torch.nn.functional as F

    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    images = []
    for view in (1, 2):
        z = recipe.view(view, y, rng)
        db = librosa.power_to_db(librosa.feature.melspectrogram(y=z, sr=recipe.sample_rate), ref=np.max)
        img = torch.from_numpy((db - db.min()) / max(db.max() - db.min(), 1e-6))[None, None]
        img = F.interpolate(img, size=(224, 224), mode="bilinear", align_corners=False)[0]
        images.append((img.expand(3, -1, -1) - mean) / std)
    return torch.stack(images)


def _our_inputs(args) -> tuple[list, list, list, float]:
    """``args.n`` utterances of the corpus (a fixed sample), their log-mels and 2 cached report variants
    each, built in a throw-away cache: ``(paths, log-mels, variants, seconds the build took)``."""
    from ..augmentation.report import report_variants

    meta = load_corpus(args.corpus, args.root)
    paths = list(meta.sample(n=min(args.n, len(meta)), random_state=0).sort_index().path)
    with tempfile.TemporaryDirectory(prefix="emolib-bench-") as tmp:
        t0 = time.perf_counter()
        clean = log_mels(paths, cache=FeatureCache(LogMelConfig(), root=tmp), progress=False)
        variants = report_variants(paths, k=2, root=tmp, progress=False)
        return paths, clean, variants, time.perf_counter() - t0


def bench_augment(args) -> dict:
    import torch

    from ..augmentation.views import TwoViews, recipe
    from ..augmentation.report import ReportRecipe
    from ..data.audio import load_audio
    from ..data.features import Standardizer

    paths, clean, variants, build_s = _our_inputs(args)
    n = len(paths)
    waves = [load_audio(p) for p in paths]
    rng = np.random.default_rng(0)
    report_pair(waves[0], rng, ReportRecipe())  # warm up librosa, numba and torch
    t0 = time.perf_counter()
    for y in waves:
        report_pair(y, rng, ReportRecipe())
    baseline = n / (time.perf_counter() - t0)

    views = TwoViews(clean, Standardizer.fit(clean), recipe("report+byol-a"), variants=variants)
    g = torch.Generator().manual_seed(0)
    batch = 256
    views(torch.randint(n, (batch,), generator=g), g)  # warm up
    pairs, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        v1, v2 = views(torch.randint(n, (batch,), generator=g), g)
        pairs += len(v1)
    ours = pairs / (time.perf_counter() - t0)
    return {"benchmark": "augment", "utterances": n, "baseline_pairs_per_s": round(baseline, 2),
            "ours_pairs_per_s": round(ours, 1), "speedup": round(ours / baseline, 1),
            "cache_build_s": round(build_s, 2), "threads": torch.get_num_threads(),
            "settings": {"n": args.n, "seconds": args.seconds}}


#: Each benchmark's default settings: only a run with these, on EmoDB, writes ``results/bench_<name>.json``
#: (the files docs/methods.md and notebook 02 quote); other settings or corpora only print.
DEFAULTS = {"augment": {"n": 64, "seconds": 3.0}, "pretrain": {"n": 64, "seconds": 3.0, "report_steps": 4}}


def _keep(name: str, result: dict, corpus: str | None) -> None:
    """Write ``result`` to ``results/bench_<name>.json`` when it ran with the defaults on EmoDB."""
    from ..core import env
    from ..core.files import atomic_write

    if name in DEFAULTS and result.get("settings") == DEFAULTS[name] and env.corpus_name(corpus) == "emodb":
        atomic_write(env.RESULTS / f"bench_{name}.json", (json.dumps(result) + "\n").encode())


def _moco_steps(model, optimizer, batches) -> int:
    """Pretraining steps on ``(x1, x2)`` batches; returns the samples seen."""
    n = 0
    for x1, x2 in batches:
        loss = model(x1, x2, 0.99)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        n += len(x1)
    return n


def bench_pretrain(args) -> dict:
    import resource

    import torch

    from ..augmentation.views import TwoViews, recipe
    from ..augmentation.report import ReportRecipe
    from ..data.audio import load_audio
    from ..data.features import Standardizer
    from ..models.vit import BackboneConfig
    from ..ssl.moco import MoCo
    from ..ssl.pretrain_config import profile_config

    torch.manual_seed(0)
    paths, clean, variants, build_s = _our_inputs(args)
    n = len(paths)
    cfg = profile_config("full")
    views = TwoViews(clean, Standardizer.fit(clean), recipe(cfg.aug, crop_frames=cfg.frames), variants=variants)
    g = torch.Generator().manual_seed(0)

    def ours_batches(batch, steps):
        return (views(torch.randint(n, (batch,), generator=g), g) for _ in range(steps))

    model = MoCo(cfg.backbone(), cfg.moco_dim, cfg.moco_mlp_dim, cfg.moco_t)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=cfg.weight_decay)
    _moco_steps(model, opt, ours_batches(cfg.batch_size, 1))  # warm up
    seen, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds or seen < 2 * cfg.batch_size:
        seen += _moco_steps(model, opt, ours_batches(cfg.batch_size, 1))
    ours = seen / (time.perf_counter() - t0)
    _moco_steps(model, opt, ours_batches(256, 2))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # kB on Linux
    del model, opt

    waves = [load_audio(p) for p in paths]
    rng = np.random.default_rng(0)
    report = MoCo(BackboneConfig("vit_small", 12, 224, 224, 16), 256, 4096, 0.2)
    opt = torch.optim.AdamW(report.parameters(), lr=1e-4, weight_decay=0.1)
    batch = 8

    def report_batches(steps):
        for s in range(steps):
            pairs = torch.stack([report_pair(waves[(s * batch + i) % n], rng, ReportRecipe()) for i in range(batch)])
            yield pairs[:, 0, :1], pairs[:, 1, :1]  # (B, 1, 224, 224): one of the three equal channels

    _moco_steps(report, opt, report_batches(1))  # warm up librosa, numba and torch
    t0 = time.perf_counter()
    baseline = _moco_steps(report, opt, report_batches(args.report_steps)) / (time.perf_counter() - t0)
    result = {"benchmark": "pretrain", "utterances": n, "baseline_samples_per_s": round(baseline, 2),
              "baseline": f"report: librosa views per sample, 224x224 ViT-S/16, batch {batch}",
              "ours_samples_per_s": round(ours, 1),
              "ours": f"cached views, 64x{cfg.frames} {cfg.arch}/{cfg.depth}, batch {cfg.batch_size}",
              "speedup": round(ours / baseline, 1), "peak_rss_gb_bs256": round(peak_gb, 2),
              "cache_build_s": round(build_s, 2), "threads": torch.get_num_threads(),
              "settings": {"n": args.n, "seconds": args.seconds, "report_steps": args.report_steps}}
    return result


def bench_predict(args) -> dict:
    import os

    from ..systems import final, predict

    name = final.resolve(args.model, args.speaker_norm, args.corpus)[0]
    model = final.load(name, args.speaker_norm, corpus=args.corpus, profile=args.profile)
    paths = list(load_corpus(args.corpus, args.root).path)
    predict.predict_files(model, paths[:predict.MIN_NORM_UNITS], jobs=1)  # warm up imports and openSMILE
    jobs = os.cpu_count() or 1
    times, outputs = {}, {}
    for n in (1, jobs):
        t0 = time.perf_counter()
        outputs[n] = predict.predict_files(model, paths, jobs=n)[0]
        times[n] = time.perf_counter() - t0
    if [p.emotion for p in outputs[1]] != [p.emotion for p in outputs[jobs]]:
        raise RuntimeError("predictions with one and with several feature processes differ")
    return {"benchmark": "predict", "model": model.info["row"], "files": len(paths), "one_job_s": round(times[1], 2),
            "jobs": jobs, "all_jobs_s": round(times[jobs], 2), "speedup": round(times[1] / times[jobs], 2),
            "files_per_s": round(len(paths) / times[jobs], 1)}


def run(name: str, args) -> int:
    result = {"features": bench_features, "augment": bench_augment, "predict": bench_predict,
              "pretrain": bench_pretrain}[name](args)
    _keep(name, result, args.corpus)
    if name == "pretrain":
        print(f"pretraining: the report's pipeline {result['baseline_samples_per_s']} samples/s, ours "
              f"{result['ours_samples_per_s']} samples/s -> {result['speedup']}x faster; peak memory at batch 256 "
              f"{result['peak_rss_gb_bs256']} GB")
    elif name == "predict":
        print(f"predict ({result['model']}): {result['files']} files in {result['all_jobs_s']} s with "
              f"{result['jobs']} feature processes ({result['files_per_s']} files/s), {result['one_job_s']} s "
              f"with one -> {result['speedup']}x")
    elif name == "features":
        print(f"{result['files']} files: first pass {result['first_pass_s']} s, second pass "
              f"{result['second_pass_s']} s -> {result['speedup']}x faster")
    else:
        print(f"{result['utterances']} utterances: report pipeline {result['baseline_pairs_per_s']} "
              f"pairs/s, ours {result['ours_pairs_per_s']} pairs/s -> {result['speedup']}x faster "
              f"(ours after a one-off cache build of {result['cache_build_s']} s)")
    print(json.dumps(result))
    return 0
