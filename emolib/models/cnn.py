"""The course report's Conv1D classifier, rebuilt in PyTorch, and its training loop.

The report (Keras) classified one 173-value descriptor vector per audio segment, read as a
one-channel sequence of length 173::

    Conv1D(256, 5, same) -> ReLU -> MaxPool(5, 2, same)
    Conv1D(256, 5, same) -> BatchNorm -> ReLU -> MaxPool(5, 2, same)
    Conv1D(128, 5, same) -> BatchNorm -> ReLU -> MaxPool(5, 2, same) -> Dropout(0.2)
    Conv1D(64, 5, same)  -> BatchNorm -> ReLU -> MaxPool(5, 2, same)
    Flatten -> Dense(64) -> BatchNorm -> ReLU -> Dropout(0.25) -> Dense(7)

trained with Adam on the cross-entropy (the softmax lives in the loss).  The pooling halves
the length each time, 173 -> 87 -> 44 -> 22 -> 11, so Flatten gives 11 * 64 = 704 values and
the model has 581,063 parameters, the number the report's code printed.

Kept from Keras: "same" pooling (:class:`SamePool1d`), Glorot-uniform weights with zero
biases, and Adam's epsilon of 1e-7.  Not kept: Keras's BatchNorm momentum (0.99, i.e. 0.01
in PyTorch's convention).  The CPU budgets used here amount to a few hundred batches, and
running averages that slow would leave the eval-mode statistics far from the data, so the
layers use PyTorch's defaults (momentum 0.1, eps 1e-5).

The model standardises its own input with ``mean`` and ``std`` buffers that :func:`train`
sets from the training rows alone: a trained model is self-contained, and its statistics
cannot come from test data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..core import budgets, devices
from ..data.emodb import CLASSES

N_FEATURES = 173  # the report's descriptors per segment
STD_FLOOR = 1e-8  # a constant feature is centred, not divided by zero


class SamePool1d(nn.Module):
    """Max pooling with Keras's ``padding="same"``: the output has ``ceil(L / stride)``
    positions.

    The input is padded by ``max((out - 1) * stride + kernel_size - L, 0)`` positions, the
    smaller half on the left, with -inf so that padding never wins a window.  ``max_pool1d``
    pads both ends by the left half itself (with -inf); when the total is odd the one extra
    position is padded on the right first, which is quicker than padding both ends by hand.
    """

    def __init__(self, kernel_size: int, stride: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def out_len(self, length: int) -> int:
        return math.ceil(length / self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        total = max((self.out_len(length) - 1) * self.stride + self.kernel_size - length, 0)
        left = total // 2
        if total - left > left:
            x = F.pad(x, (0, total - 2 * left), value=float("-inf"))
        return F.max_pool1d(x, self.kernel_size, self.stride, padding=left)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class ReportCNN(nn.Module):
    """The report's Conv1D classifier (see the module docstring) on ``n_features`` inputs.

    ``forward`` takes raw (unstandardised) features of shape (batch, n_features) or
    (batch, 1, n_features) and returns logits of shape (batch, n_classes).
    """

    def __init__(self, n_features: int = N_FEATURES, n_classes: int = len(CLASSES)):
        super().__init__()
        self.n_features = n_features
        self.n_classes = n_classes
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

        def pool():
            return SamePool1d(5, stride=2)

        length = n_features
        for _ in range(4):  # four poolings, each ceil(L / 2)
            length = pool().out_len(length)
        self.flat_size = length * 64

        self.layers = nn.Sequential(
            nn.Conv1d(1, 256, 5, padding="same"), nn.ReLU(), pool(),
            nn.Conv1d(256, 256, 5, padding="same"), nn.BatchNorm1d(256), nn.ReLU(), pool(),
            nn.Conv1d(256, 128, 5, padding="same"), nn.BatchNorm1d(128), nn.ReLU(), pool(),
            nn.Dropout(0.2),
            nn.Conv1d(128, 64, 5, padding="same"), nn.BatchNorm1d(64), nn.ReLU(), pool(),
            nn.Flatten(),
            nn.Linear(self.flat_size, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(64, n_classes),
        )
        for m in self.layers:  # Keras's initialisation
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        if x.dim() == 2:
            x = x.unsqueeze(1)  # one channel
        return self.layers(x)


@dataclass(frozen=True)
class TrainConfig:
    """Training budget.  Each epoch draws ``epoch_samples`` training rows at random without
    replacement (all rows if there are fewer), which bounds the cost of an epoch on a CPU;
    ``epoch_samples=None`` makes every epoch a full pass over the training rows in a fresh
    random order, as Keras's ``fit`` does."""

    epochs: int
    epoch_samples: int | None
    batch_size: int = 64
    lr: float = 1e-3  # Keras's Adam default
    seed: int = 0

    def __post_init__(self):
        for name, least in (("epochs", 1), ("epoch_samples", 2), ("batch_size", 2)):
            if name == "epoch_samples" and self.epoch_samples is None:
                continue
            if getattr(self, name) < least:
                raise ValueError(f"TrainConfig.{name} must be at least {least}, "
                                 f"got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be positive, got {self.lr}")

    def describe(self) -> str:
        """The budget in words, for results rows, e.g. '30 full passes, batch 32'."""
        plural = "" if self.epochs == 1 else ("es" if self.epoch_samples is None else "s")
        per_epoch = (f"full pass{plural}" if self.epoch_samples is None
                     else f"epoch{plural} of {self.epoch_samples} rows")
        return f"{self.epochs} {per_epoch}, batch {self.batch_size}"


def _features(X, n_features: int | None, name: str) -> np.ndarray:
    """``X`` as a float32 array (n, n_features), or ValueError naming the argument."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x features), got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features per row; the model expects "
                         f"{n_features}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _labels(y, n_rows: int, n_classes: int, name: str, x_name: str) -> np.ndarray:
    """``y`` as an int64 array of class indices, or ValueError naming the argument."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_rows:
        raise ValueError(f"{name} must hold one label per row of {x_name} ({n_rows}), "
                         f"got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and (y.min() < 0 or y.max() >= n_classes)):
        raise ValueError(f"{name} must hold integer class indices 0..{n_classes - 1} (positions "
                         f"in emolib.data.emodb.CLASSES, e.g. CLASSES.index(emotion)), got "
                         f"{y.dtype} values {np.unique(y)[:10]}")
    return y.astype(np.int64)


def train(X_train, y_train, cfg: TrainConfig, X_monitor=None, y_monitor=None,
          progress: bool = True, device: str | None = None) -> tuple[ReportCNN, pd.DataFrame]:
    """Train a :class:`ReportCNN` on ``X_train`` (n x features) with class indices
    ``y_train`` (into ``emodb.CLASSES``).

    The model's standardisation buffers are set from ``X_train`` first.  Each epoch draws
    ``cfg.epoch_samples`` rows without replacement (all of them if None) and steps Adam
    through them in batches of ``cfg.batch_size``; a final batch of a single row is dropped,
    since BatchNorm cannot normalise one row in training mode.

    ``X_monitor``/``y_monitor`` (e.g. held-out speakers) are only scored after each epoch,
    in eval mode, for plotting learning curves; they never influence training.  The same
    ``cfg.seed`` on the same machine gives the same weights and history.  The caller's
    global torch random state is left as it was.

    ``device``: where it trains (default ``EMOLIB_DEVICE``, else the GPU when there is one:
    :func:`emolib.core.devices.resolve`); the batches are drawn on the CPU either way, and the model
    comes back on the CPU.

    Returns the model in eval mode and a history with one row per epoch: ``epoch``,
    ``train_loss`` (mean over the epoch's batches) and ``monitor_loss`` (NaN without a
    monitor set).
    """
    from tqdm.auto import tqdm

    n_classes = len(CLASSES)
    X = _features(X_train, None, "X_train")
    if len(X) < 2:
        raise ValueError(f"X_train needs at least 2 rows, got {len(X)}")
    y = _labels(y_train, len(X), n_classes, "y_train", "X_train")
    if (X_monitor is None) != (y_monitor is None):
        raise ValueError("X_monitor and y_monitor must be given together")
    if X_monitor is not None:
        X_mon = _features(X_monitor, X.shape[1], "X_monitor")
        y_mon = torch.from_numpy(_labels(y_monitor, len(X_mon), n_classes, "y_monitor",
                                         "X_monitor"))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = ReportCNN(n_features=X.shape[1], n_classes=n_classes)
        model.mean.copy_(torch.from_numpy(X.mean(axis=0, dtype=np.float64)))
        model.std.copy_(torch.from_numpy(np.maximum(X.std(axis=0, dtype=np.float64), STD_FLOOR)))
        dev = devices.resolve(device)
        model.to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=1e-7)
        rng = np.random.default_rng(cfg.seed)
        Xt, yt = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
        rows = []
        bar = tqdm(range(1, cfg.epochs + 1), desc="ReportCNN", unit="epoch",
                   disable=not progress)
        for epoch in bar:
            idx = rng.permutation(len(X))
            if cfg.epoch_samples is not None:
                idx = idx[:cfg.epoch_samples]
            if len(idx) % cfg.batch_size == 1:
                idx = idx[:-1]
            idx = torch.from_numpy(idx).to(dev)
            model.train()
            losses = []
            for start in range(0, len(idx), cfg.batch_size):
                batch = idx[start:start + cfg.batch_size]
                loss = F.cross_entropy(model(Xt[batch]), yt[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            row = {"epoch": epoch, "train_loss": float(np.mean(losses)), "monitor_loss": math.nan}
            if X_monitor is not None:
                logits = torch.from_numpy(predict_logits(model, X_mon))
                row["monitor_loss"] = F.cross_entropy(logits, y_mon).item()
            rows.append(row)
            bar.set_postfix({k: f"{v:.3f}" for k, v in row.items()
                             if k != "epoch" and not math.isnan(v)})
    model.eval().to("cpu")  # returned on the CPU, wherever it trained
    return model, pd.DataFrame(rows, columns=["epoch", "train_loss", "monitor_loss"])


def predict_logits(model: ReportCNN, X, batch_size: int = 1024) -> np.ndarray:
    """Logits (n x n_classes, float32) of raw features ``X``, in eval mode without
    gradients (the model is left in eval mode)."""
    X = _features(X, model.n_features, "X")
    model.eval()
    dev = model.mean.device
    with torch.no_grad():
        out = [model(torch.from_numpy(X[i:i + batch_size]).to(dev)).cpu() for i in range(0, len(X), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.n_classes), np.float32)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (BatchNorm's gamma and beta included, its running statistics not)."""
    return sum(p.numel() for p in model.parameters())


def budget(profile: str | None = None) -> TrainConfig:
    """The Conv1D budget of the segment study and of the ``cnn`` system (:data:`emolib.core.budgets.CONV1D`)."""
    return TrainConfig(**budgets.budget(budgets.CONV1D, profile))


def report_budget(profile: str | None = None) -> TrainConfig:
    """The report's kind of training, full passes (:data:`emolib.core.budgets.CONV1D_REPORT`)."""
    return TrainConfig(**budgets.budget(budgets.CONV1D_REPORT, profile))
