"""How far an input is from a model's training domain, read from what the model itself computes:
a class-conditional Gaussian with one shared covariance on the features the logits are decoded
from (Lee et al. 2018, "A Simple Unified Framework for Detecting Out-of-Distribution Samples").
The score is the Mahalanobis distance to the nearest class mean; the threshold is a high quantile
of the scores of held-out in-domain images, so that only about 1 in 100 of them is flagged.

The fit lives in the checkpoint (tensors ``domain.means`` and ``domain.precision``, the threshold
and how it was calibrated in the metadata's ``domain``), so the page and the programs read the
same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["DomainGaussian", "fit_domain", "TENSORS"]

TENSORS = ("domain.means", "domain.precision")
SHRINK = 1e-3  # ridge added to the covariance, relative to its mean variance: keeps it invertible


@dataclass(frozen=True)
class DomainGaussian:
    """Class means (C, D), the shared precision (D, D), and the score above which an input is out
    of domain. ``glances`` is the unroll the features were read at; ``calibration`` says how the
    threshold was set and what it measured (for the model card)."""

    means: np.ndarray
    precision: np.ndarray
    threshold: float
    glances: int
    calibration: dict[str, Any] = field(default_factory=dict)

    def score(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """(B,) the squared Mahalanobis distance of each (B, D) feature row to its nearest class mean."""
        f = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else np.asarray(
            features, np.float64)
        if f.ndim != 2 or f.shape[1] != self.means.shape[1]:
            raise ValueError(f"features must be (B, {self.means.shape[1]}), got {f.shape}")
        diff = f[:, None, :] - self.means[None].astype(np.float64)  # (B, C, D)
        d2 = np.einsum("bcd,de,bce->bc", diff, self.precision.astype(np.float64), diff)  # (B, C)
        return d2.min(axis=1)

    def flags(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """(B,) bool: out of domain."""
        return self.score(features) > self.threshold

    def tensors(self) -> dict[str, torch.Tensor]:
        return {TENSORS[0]: torch.from_numpy(np.asarray(self.means, np.float32)),
                TENSORS[1]: torch.from_numpy(np.asarray(self.precision, np.float32))}

    def metadata(self) -> dict[str, Any]:
        return {"threshold": float(self.threshold), "glances": int(self.glances), "calibration": self.calibration}

    @classmethod
    def from_checkpoint(cls, meta: dict[str, Any], extra: dict[str, torch.Tensor]) -> DomainGaussian | None:
        """The fit stored in a checkpoint, or None when it has none; ``ValueError`` when half of it is there."""
        record, present = meta.get("domain"), [k for k in TENSORS if k in extra]
        if record is None and not present:
            return None
        if not isinstance(record, dict) or len(present) != len(TENSORS):
            raise ValueError("the out-of-domain fit needs the metadata's 'domain' and both tensors "
                             f"{TENSORS}")
        means, precision = extra[TENSORS[0]].double().numpy(), extra[TENSORS[1]].double().numpy()
        if means.ndim != 2 or precision.shape != (means.shape[1], means.shape[1]):
            raise ValueError(f"out-of-domain fit: means {means.shape} and precision {precision.shape} disagree")
        return cls(means, precision, float(record["threshold"]), int(record["glances"]),
                   dict(record.get("calibration") or {}))


def fit_domain(features: np.ndarray, labels: np.ndarray, held_out: np.ndarray, glances: int,
               quantile: float = 0.99, num_classes: int | None = None) -> DomainGaussian:
    """Class means and a shared covariance from in-domain ``features`` (N, D) with ``labels`` (N,),
    and the threshold at ``quantile`` of the scores of ``held_out`` (M, D) in-domain features
    (never the ones the Gaussian was fitted on)."""
    f = np.asarray(features, np.float64)
    y = np.asarray(labels)
    c = int(num_classes if num_classes is not None else y.max() + 1)
    if f.ndim != 2 or len(f) != len(y) or len(f) < 2:
        raise ValueError(f"need (N, D) features and (N,) labels, got {f.shape} and {y.shape}")
    if not 0.5 <= quantile < 1.0:
        raise ValueError(f"quantile must be in [0.5, 1), got {quantile}")
    missing = [k for k in range(c) if not (y == k).any()]
    if missing:
        raise ValueError(f"every class needs features to fit its mean; none for {missing}")
    means = np.stack([f[y == k].mean(axis=0) for k in range(c)])  # (C, D)
    centred = f - means[y]
    cov = centred.T @ centred / len(f)  # (D, D), shared by the classes
    cov += SHRINK * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    precision = np.linalg.inv(cov)
    fitted = DomainGaussian(means, precision, float("inf"), glances)
    threshold = float(np.quantile(fitted.score(held_out), quantile))
    return DomainGaussian(means, precision, threshold, glances)
