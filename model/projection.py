"""A plane to follow a model's belief on: the state each glance's logits are decoded from
(``ModelOutput.step_states``), projected to 2-D by PCA fitted once on in-domain images, with each
class's cloud of states drawn in the same plane.

The fit lives in the checkpoint (tensors ``belief.mean``, ``belief.components`` and
``belief.clouds``, how it was fitted in the metadata's ``belief``), so the page draws the clouds
without recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["BeliefProjection", "fit_projection", "TENSORS"]

TENSORS = ("belief.mean", "belief.components", "belief.clouds")


@dataclass(frozen=True)
class BeliefProjection:
    """``mean`` (S,) and ``components`` (2, S) of the PCA, and ``clouds`` (C, P, 2): P projected
    states per class. ``glances`` is the unroll the fit read; ``record`` says how it was fitted
    (images, explained variance) for the page to show."""

    mean: np.ndarray
    components: np.ndarray
    clouds: np.ndarray
    glances: int
    record: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.mean.shape
        if len(s) != 1 or self.components.shape != (2, s[0]) or self.clouds.ndim != 3 or self.clouds.shape[2] != 2:
            raise ValueError(f"projection: mean {self.mean.shape}, components {self.components.shape} and clouds "
                             f"{self.clouds.shape} must be (S,), (2, S) and (C, P, 2)")

    @property
    def state_dim(self) -> int:
        return int(self.mean.shape[0])

    def project(self, states: np.ndarray | torch.Tensor) -> np.ndarray:
        """(..., 2) float64 coordinates of states (..., S)."""
        s = states.detach().cpu().double().numpy() if isinstance(states, torch.Tensor) else np.asarray(
            states, np.float64)
        if s.shape[-1] != self.state_dim:
            raise ValueError(f"states must end in {self.state_dim} values, got shape {s.shape}")
        return (s - self.mean.astype(np.float64)) @ self.components.astype(np.float64).T

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(np.ascontiguousarray(value, np.float32))
                for name, value in zip(TENSORS, (self.mean, self.components, self.clouds))}

    def metadata(self) -> dict[str, Any]:
        return {"glances": int(self.glances), **self.record}

    @classmethod
    def from_checkpoint(cls, meta: dict[str, Any], extra: dict[str, torch.Tensor]) -> BeliefProjection | None:
        """The projection stored in a checkpoint, or None when it has none; ``ValueError`` when half
        of it is there."""
        record, present = meta.get("belief"), [k for k in TENSORS if k in extra]
        if record is None and not present:
            return None
        if not isinstance(record, dict) or len(present) != len(TENSORS):
            raise ValueError(f"the belief projection needs the metadata's 'belief' and the tensors {TENSORS}")
        mean, components, clouds = (extra[k].float().numpy() for k in TENSORS)
        rest = {k: v for k, v in record.items() if k != "glances"}
        return cls(mean, components, clouds, int(record["glances"]), rest)


def fit_projection(states: np.ndarray, cloud_states: np.ndarray, cloud_labels: np.ndarray, num_classes: int,
                   per_class: int, glances: int, record: dict[str, Any] | None = None) -> BeliefProjection:
    """PCA of ``states`` (M, S) (every glance of every fitting image), and the first ``per_class``
    of ``cloud_states`` (K, S) of each class in ``cloud_labels`` (K,) projected onto it. Each
    component's sign makes its largest loading positive, so a refit gives the same plane."""
    x = np.asarray(states, np.float64)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"need (M, S) states with M >= 3, got {x.shape}")
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    flip = np.sign(vt[np.arange(2), np.abs(vt[:2]).argmax(axis=1)])
    # stored as float32: the clouds are projected with the stored numbers, as every later state is
    mean, components = mean.astype(np.float32).astype(np.float64), (vt[:2] * flip[:, None]).astype(np.float32)
    components = components.astype(np.float64)
    variance = singular ** 2
    labels = np.asarray(cloud_labels)
    short = [k for k in range(num_classes) if (labels == k).sum() < per_class]
    if short:
        raise ValueError(f"every class needs {per_class} states for its cloud; too few for classes {short}")
    cloud = np.asarray(cloud_states, np.float64)
    clouds = np.stack([(cloud[labels == k][:per_class] - mean) @ components.T for k in range(num_classes)])
    explained = [float(v) for v in variance[:2] / variance.sum()]
    return BeliefProjection(mean.astype(np.float32), components.astype(np.float32), clouds.astype(np.float32),
                            glances, {**(record or {}), "explained_variance": explained, "per_class": per_class})
