"""Pretraining checkpoints: everything needed to resume a fold's MoCo run to the same weights.

A checkpoint (``<out>/fold<k>/checkpoint.pt``, the layout is :mod:`emolib.ssl.encoders`'s) holds the
model and momentum encoder, the optimiser, the speaker head if any, the epoch, the history so far,
the fold's input statistics, the run's settings and every random state (the view generator, torch,
CUDA, NumPy, Python).  It is written atomically; :func:`checked_resume` refuses, before any work, one
written with other settings or for another fold.
"""
from __future__ import annotations

import io
import json
import os
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..core.errors import EmolibError
from ..core.files import atomic_write
from ..models.vit import Normalization, read_checkpoint

CHECKPOINT_FORMAT = "emolib-moco-checkpoint"


def rng_state(generator: torch.Generator) -> dict:
    """Every random state a run draws from: ``generator`` (the views), torch, CUDA, NumPy, Python."""
    _, keys, pos, *_ = np.random.get_state()
    return {"generator": generator.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": keys.tolist(), "numpy_pos": int(pos), "python": list(random.getstate()[1])}


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    """Put back what :func:`rng_state` saved."""
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(("MT19937", np.array(state["numpy"], dtype=np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer, epoch: int, settings: dict, fold: int,
                    generator: torch.Generator, history: list[dict], normalization: Normalization,
                    adversary: torch.nn.Module | None = None) -> None:
    """Write the checkpoint atomically (``settings``: the run's ``PretrainConfig.to_dict()``)."""
    state = {"format": CHECKPOINT_FORMAT, "version": 1, "config": settings, "fold": fold,
             "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "rng": rng_state(generator), "history": history, "normalization": asdict(normalization)}
    if adversary is not None:
        state["adversary"] = adversary.state_dict()
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint written by :func:`save_checkpoint`, or a one-line error naming the file."""
    state = read_checkpoint(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise EmolibError(f"{path}: not an emolib MoCo checkpoint (for an official MoCo v3 "
                          "checkpoint use --init-from)")
    return state


def write_history(path: Path, history: list[dict]) -> None:
    """``history.jsonl``: one JSON line per epoch, written atomically."""
    atomic_write(path, "".join(json.dumps(h) + "\n" for h in history).encode())


def config_mismatch(saved: dict, now: dict, default: dict) -> list[str]:
    """Settings that differ; a setting added after the checkpoint was written counts as its default."""
    return [f"{k}: checkpoint {saved.get(k, default[k])!r}, now {now[k]!r}" for k in now
            if saved.get(k, default[k]) != now[k]]


def checked_resume(resume: str | None, ckpt_path: Path, now: dict, default: dict, fold: int) -> dict | None:
    """The checkpoint to resume from (``"auto"``: ``ckpt_path`` when it exists), checked against the
    run's settings ``now`` (``default``: every setting's default) and ``fold`` before any work: a
    mismatched one is refused at once.  Without a resume, a checkpoint of *other* settings at
    ``ckpt_path`` is refused too (the fresh run would overwrite it); one of the same settings is
    trained again from the start."""
    if resume == "auto":
        resume = str(ckpt_path) if ckpt_path.is_file() else None
    if not resume:
        if ckpt_path.is_file():  # starting afresh here would overwrite another run's fold: refused
            diff = config_mismatch(load_checkpoint(ckpt_path)["config"], now, default)
            if diff:
                raise EmolibError(f"{ckpt_path.parent} holds fold {fold} of another run ({'; '.join(diff)}); "
                                  "give this run its own folder with --out, or delete that one to start afresh")
        return None
    state = load_checkpoint(resume)
    diff = config_mismatch(state["config"], now, default)
    if diff or state["fold"] != fold:
        raise EmolibError(f"{resume} was written by another run (fold {state['fold']}); differences: "
                          + "; ".join(diff or ["fold"]) + ". Resume with the same settings, or start afresh")
    state["path"] = resume
    return state
