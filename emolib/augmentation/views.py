"""MoCo's two views of one utterance.

:class:`TwoViews` builds the pair: each view takes the clean log-mel or a cached report variant
(:func:`emolib.augmentation.report.report_variants`; view 1 from noise+stretch, view 2 from shift+pitch), then
the spectrogram augmentations (:mod:`emolib.augmentation.spectrogram`) its :class:`ViewRecipe` switches on.  The
report found that stacking image augmentations on top of the audio ones broke positive pairs, so
the combination is a setting (:data:`RECIPES`), compared in notebook 02; :func:`view_agreement`
measures how recognisable the pairs are, :func:`agreement_study` for several recipes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.features import LogMelConfig, Standardizer
from .spectrogram import (
    LogMixupExp,
    MelBank,
    MelWarp,
    Normalize,
    RandomGain,
    RandomResizedCrop,
    RandomTimeCrop,
    SourceFilterWarp,
    SpecAugment,
)


@dataclass(frozen=True)
class ViewRecipe:
    """Which augmentations make a view (a setting, because the report's stacking of image
    augmentations on top of audio ones broke positive pairs).

    ``waveform``: take the view from the cached report variants (view 1: noise+stretch,
    view 2: shift+pitch) instead of the clean log-mel.  The rest are the spectrogram
    augmentations, each off at 0 / False."""

    crop_frames: int = 96
    waveform: bool = False
    gain_db: float = 0.0
    mixup: float = 0.0
    resized_crop: bool = False
    freq_mask: int = 0
    time_mask: int = 0
    warp: float = 0.0          # MelWarp's max_warp (0: off)
    formant: float = 0.0       # SourceFilterWarp's max_formant: the envelope alone (0: off)
    pitch: float = 0.0         # SourceFilterWarp's max_pitch: the fine structure alone (0: off)
    warp_views: str = "both"   # the voice changes above: "both": each view its own; "one": view 2 only

    def __post_init__(self):
        if self.warp_views not in ("both", "one"):
            raise ValueError(f"warp_views must be 'both' or 'one', got {self.warp_views!r}")


#: Named combinations compared in notebook 02 (and selectable for pretraining).
RECIPES: dict[str, ViewRecipe] = {
    "crop": ViewRecipe(),
    "report": ViewRecipe(waveform=True),
    "byol-a": ViewRecipe(mixup=0.4, resized_crop=True, gain_db=6.0),
    "byol-a+masks": ViewRecipe(mixup=0.4, resized_crop=True, gain_db=6.0, freq_mask=8, time_mask=16),
    "report+byol-a": ViewRecipe(waveform=True, mixup=0.4, resized_crop=True, gain_db=6.0),
}


def recipe(name: str, **changes) -> ViewRecipe:
    """A named recipe from :data:`RECIPES`, with optional changes (e.g. ``crop_frames=128``)."""
    if name not in RECIPES:
        raise ValueError(f"unknown augmentation recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return replace(RECIPES[name], **changes)


class TwoViews(nn.Module):
    """MoCo's positive pair from one utterance: ``views(idx, generator)`` returns two batches
    ``(B, 1, F, crop_frames)`` of standardised log-mels, each augmented independently.

    ``clean``: the utterances' log-mels; ``variants``: the output of :func:`report_variants`
    for the same utterances (needed when ``recipe.waveform``); ``standardizer``: the fold's
    training statistics (or one per group, with ``groups`` giving each utterance's group: see
    :class:`Normalize`).  With several variants per view, each call picks one at random.
    """

    def __init__(self, clean: Sequence[np.ndarray], standardizer: Standardizer | Sequence[Standardizer],
                 recipe: ViewRecipe = ViewRecipe(), variants: dict | None = None, queue: int = 0,
                 groups=None):
        super().__init__()
        self.recipe, self.n = recipe, len(clean)
        self.clean = MelBank(clean)
        self.banks: dict[int, MelBank] = {}
        if recipe.waveform:
            if not variants:
                raise ValueError("this recipe takes its views from the report's waveform "
                                 "variants: pass variants=report_variants(paths, k)")
            for v in (1, 2):
                if any(len(per) != self.n for per in variants[v]):
                    raise ValueError("variants do not match the utterances: each variant needs "
                                     f"{self.n} log-mels, in the same order")
                self.banks[v] = MelBank([m for per in variants[v] for m in per])
        self.k = len(variants[1]) if recipe.waveform else 0
        self.crop = RandomTimeCrop(recipe.crop_frames)
        self.gain = RandomGain(recipe.gain_db)
        self.mixup = nn.ModuleList([LogMixupExp(recipe.mixup, queue) for _ in (1, 2)])
        self.normalize = Normalize(standardizer, groups)
        self.warp = MelWarp(recipe.warp, LogMelConfig(n_mels=clean[0].shape[0]))
        self.voice = SourceFilterWarp(recipe.formant, recipe.pitch, LogMelConfig(n_mels=clean[0].shape[0]))
        self.resized_crop = RandomResizedCrop() if recipe.resized_crop else nn.Identity()
        self.masks = SpecAugment(recipe.freq_mask, recipe.time_mask)

    def to(self, device):
        for bank in (self.clean, *self.banks.values()):
            bank.to(device)
        return super().to(device)

    def view(self, which: int, idx: torch.Tensor, generator=None) -> torch.Tensor:
        idx = torch.as_tensor(idx).cpu()
        if self.recipe.waveform:
            variant = (torch.rand(len(idx), generator=generator) * self.k).long()
            x = self.crop(self.banks[which], variant * self.n + idx, generator)
        else:
            x = self.crop(self.clean, idx, generator)
        x = self.mixup[which - 1](self.gain(x, generator), generator)
        if which == 2 or self.recipe.warp_views == "both":  # each warp is the identity (no draw) when off
            x = self.warp(self.voice(x, generator), generator)
        x = self.normalize(x, idx)
        if self.recipe.resized_crop:
            x = self.resized_crop(x, generator)
        return self.masks(x, generator)[:, None]

    def forward(self, idx: torch.Tensor, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.view(1, idx, generator), self.view(2, idx, generator)


def view_agreement(views: TwoViews, idx: torch.Tensor, generator=None) -> dict:
    """How recognisable positive pairs are to a fixed, untrained descriptor: each view's mean
    over time (one value per mel band, centred over the batch), compared by cosine similarity.

    Returns the similarities of the positive pairs (two views of one utterance) and of all
    negative pairs (view 1 of one utterance, view 2 of another), ``auc``: how often a positive
    pair is more similar than a negative one of the same utterance, and ``top1``: how often
    view 2 of an utterance is the nearest of all view 2s to its view 1 (the contrastive task
    itself, solved with a fixed descriptor instead of an encoder).
    """
    with torch.no_grad():
        v1, v2 = views(idx, generator)
        a, b = v1[:, 0].mean(-1).double(), v2[:, 0].mean(-1).double()
        # centred per view over the batch: a shift shared by all views of one kind (noise
        # filling quiet bands, say) says nothing about which utterance a view came from
        a, b = F.normalize(a - a.mean(0), dim=1), F.normalize(b - b.mean(0), dim=1)
        sim = a @ b.T
    n = len(sim)
    pos = sim.diagonal()
    off = ~torch.eye(n, dtype=torch.bool)
    auc = ((pos[:, None] > sim) & off).sum() / off.sum()
    return {"positive": pos.numpy(), "negative": sim[off].numpy(), "auc": float(auc),
            "top1": float((sim.argmax(1) == torch.arange(n)).double().mean())}


def agreement_study(mels: Sequence[np.ndarray], stats, recipes: dict[str, ViewRecipe], variants=None,
                    draws: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`view_agreement` of each named recipe over all of ``mels`` (standardised with ``stats``;
    ``variants``: the report's waveform variants of these utterances, :func:`emolib.augmentation.report.report_variants`),
    averaged over ``draws`` draws of the views (seeds 0, 1, …).  Returns one row per recipe (positive and
    negative similarity, ``auc``, ``top1``) and every similarity of the first draw (recipe, pair, similarity;
    what :func:`emolib.plots.view_agreement` draws): the study of notebooks 02 and 07."""
    rows, sims = [], []
    idx = torch.arange(len(mels))
    for name, rec in recipes.items():
        pair = TwoViews(mels, stats, rec, variants=variants)
        for draw in range(draws):
            r = view_agreement(pair, idx, torch.Generator().manual_seed(draw))
            rows.append({"recipe": name, "positive": r["positive"].mean(), "negative": r["negative"].mean(),
                         "auc": r["auc"], "top1": r["top1"]})
            if draw == 0:
                sims += [pd.DataFrame({"recipe": name, "pair": kind, "similarity": r[kind]})
                         for kind in ("positive", "negative")]
    return pd.DataFrame(rows).groupby("recipe", sort=False).mean(), pd.concat(sims, ignore_index=True)


def one_at_a_time(mels: Sequence[np.ndarray], stats, i: int, frames: int = 192, seed: int = 3) -> dict:
    """Each spectrogram augmentation alone on one time crop of utterance ``i`` (log-mixup-exp
    mixes in utterance ``i + 1``), standardised with ``stats``: name -> ``(bands, frames)`` array,
    every step drawn from a generator seeded ``seed``.  What notebook 02's figure of the
    augmentations shows."""
    def g():
        return torch.Generator().manual_seed(seed)

    crop = RandomTimeCrop(frames)(MelBank(mels), torch.tensor([i, (i + 1) % len(mels)]), g())
    normalize = Normalize(stats)
    steps = {"time crop": normalize(crop),
             "gain ±6 dB": normalize(RandomGain(6.0)(crop, g())),
             "log-mixup-exp λ≤0.4": normalize(LogMixupExp(0.4)(crop, g())),
             "random resized crop": RandomResizedCrop()(normalize(crop), g()),
             "frequency mask ≤8": SpecAugment(8, 0)(normalize(crop), g()),
             "time mask ≤16": SpecAugment(0, 16)(normalize(crop), g())}
    return {name: x[0].numpy() for name, x in steps.items()}
