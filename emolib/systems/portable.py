"""Fitted models as plain named arrays (safetensors), so a saved model loads without unpickling: the
(standardise +) multinomial logistic regressions of the openSMILE systems, the MoCo probe and the
stacker as :class:`LinearModel`, the Conv1D as its state dict (:mod:`emolib.systems.final` stores them)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class LinearModel:
    """A fitted (standardise +) multinomial logistic regression as plain arrays, so a saved model loads
    without unpickling scikit-learn objects; :meth:`predict_proba` gives what scikit-learn's does
    (``tests/test_predict.py`` checks it)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    classes_: np.ndarray

    @classmethod
    def of(cls, model) -> "LinearModel":
        """From a scikit-learn ``LogisticRegression`` or ``Pipeline(StandardScaler, LogisticRegression)``."""
        steps = [m for _, m in model.steps] if hasattr(model, "steps") else [model]
        lr = steps[-1]
        n = lr.coef_.shape[1]
        mean, scale = (steps[0].mean_, steps[0].scale_) if len(steps) == 2 else (np.zeros(n), np.ones(n))
        if lr.coef_.shape[0] != len(lr.classes_):
            raise ValueError("LinearModel holds multinomial models of three or more classes")
        return cls(mean, scale, lr.coef_, lr.intercept_, np.asarray(lr.classes_))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = ((np.asarray(X, float) - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.{k}": np.ascontiguousarray(getattr(self, k), dtype=np.float64)
                for k in ("mean", "scale", "coef", "intercept")}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str, classes: Sequence[str]) -> "LinearModel":
        return cls(*(arrays[f"{prefix}.{k}"] for k in ("mean", "scale", "coef", "intercept")), np.array(classes))


def to_arrays(fitted: dict, stacker) -> tuple[dict[str, np.ndarray], dict]:
    """Every fitted model's parameters as named arrays, and what :func:`from_arrays` needs besides."""
    arrays, kinds = {}, {}
    for s, m in {**fitted, **({"stacker": stacker} if stacker is not None else {})}.items():
        if s == "cnn":
            arrays.update({f"cnn.{k}": v.detach().cpu().numpy() for k, v in m.state_dict().items()})
            kinds[s] = {"kind": "ReportCNN", "n_features": m.n_features}
        else:
            lin = LinearModel.of(m)
            arrays.update(lin.arrays(s))
            kinds[s] = {"kind": "LinearModel", "classes": [str(c) for c in lin.classes_]}
    return arrays, kinds


def from_arrays(arrays: dict, kinds: dict) -> dict:
    import torch

    from ..models.cnn import ReportCNN

    out = {}
    for s, k in kinds.items():
        if k["kind"] == "ReportCNN":
            model = ReportCNN(n_features=k["n_features"])
            model.load_state_dict({n[4:]: torch.from_numpy(v.copy()) for n, v in arrays.items() if n.startswith("cnn.")})
            out[s] = model.eval()
        else:
            out[s] = LinearModel.from_arrays(arrays, s, k["classes"])
    return out
