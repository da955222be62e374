"""Is an image inside a model's training domain? The model's own out-of-domain score (a Gaussian
on the features its logits are decoded from, stored in the checkpoint), with the image's pixel
statistics as the explanation a person can read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.checks import check_image_array
from model.inference import model_device

from .images import domain_warnings

__all__ = ["DomainVerdict", "domain_verdict"]


@dataclass(frozen=True)
class DomainVerdict:
    """``score`` against ``threshold`` (None for a model without a fit) and the pixel statistics
    that are far from the training images' (``reasons``)."""

    score: float | None
    threshold: float | None
    reasons: tuple[str, ...]
    calibration: str = ""

    @property
    def flagged_by_score(self) -> bool:
        return self.score is not None and self.threshold is not None and self.score > self.threshold

    @property
    def outside(self) -> bool:
        """Out of domain by the model's own score, or by pixel statistics far from the training images'."""
        return self.flagged_by_score or bool(self.reasons)

    def record(self) -> dict[str, object]:
        """For export metadata."""
        return {"score": self.score, "threshold": self.threshold, "out_of_domain": self.outside,
                "pixel_statistics": list(self.reasons)}

    def sentence(self) -> str:
        """What the page and the CLI say about an image out of domain."""
        if not self.flagged_by_score:
            score = "" if self.score is None else (f" (the model's own out-of-domain score, {self.score:,.0f}, is "
                                                   f"under its threshold {self.threshold:,.0f})")
            return "its pixel statistics are far from the training images': " + "; ".join(self.reasons) + score
        why = ("; its pixel statistics say: " + "; ".join(self.reasons) if self.reasons else
               "; its brightness, contrast, colour and background are within the training images' range, "
               "so the difference is in what it shows")
        return (f"the model's out-of-domain score is {self.score:,.0f}, above its threshold {self.threshold:,.0f}"
                f"{' (' + self.calibration + ')' if self.calibration else ''}{why}")


@torch.no_grad()
def domain_verdict(model: nn.Module, image: np.ndarray, pixels: np.ndarray | None = None) -> DomainVerdict:
    """The verdict on one (H, W, 3) image in [0, 1] of the model's input size; ``pixels`` is the
    image's own content for the pixel statistics (an upload without the fit's padding)."""
    check_image_array(image)
    info, fit = getattr(model, "info", None), getattr(model, "domain", None)
    own = image if pixels is None else pixels
    reasons = tuple(domain_warnings(own, info.input_stats if info is not None else None))
    if fit is None:
        return DomainVerdict(None, None, reasons)
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None].to(model_device(model))
    features = model(x, glances=fit.glances).features
    note = fit.calibration.get("threshold_rule", "")
    return DomainVerdict(float(fit.score(features)[0]), fit.threshold, reasons, note)
