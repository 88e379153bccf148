"""Where torch trains: ``--device`` / ``EMOLIB_DEVICE`` resolved once, for every training (MoCo v3
pretraining, fine-tuning, the Conv1D, the torch probe) and for the ``device`` of results rows."""
from __future__ import annotations

import os

import torch

from . import env
from .errors import EmolibError


def resolve(requested: str | None = None) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (the GPU when there is one); None takes
    ``EMOLIB_DEVICE`` (:func:`emolib.core.env.device_request`).  A bad value is a one-line error naming it."""
    requested = env.device_request(requested)
    if requested != "auto":
        try:
            dev = torch.device(requested)
        except RuntimeError:
            raise EmolibError(f"--device {requested}: use cpu, cuda, cuda:N or auto") from None
        if dev.type not in ("cpu", "cuda"):
            raise EmolibError(f"--device {requested}: use cpu, cuda, cuda:N or auto")
        if dev.type == "cuda" and (not torch.cuda.is_available()
                                   or (dev.index or 0) >= torch.cuda.device_count()):
            raise EmolibError(f"--device {requested}: no such GPU here ({torch.cuda.device_count()} visible); "
                              "use cpu or auto")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def name(dev: torch.device | str | None = None) -> str:
    """``cpu``, or the GPU's name (recorded with each exported backbone and results row); a string or
    None is resolved first."""
    dev = dev if isinstance(dev, torch.device) else resolve(dev)
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type
