"""The adversarial patch on the page's image, and where the model looks once it is there: the
share of attention (or, for a model without attention, of the gradient attribution) on the patch
and on the item, glance by glance, before and after. Plain arrays and records; no drawing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from model.checks import check_glances, check_image_array
from model.inference import model_device
from model.metrics import box_mass
from model.patch import PatchConfig, PatchResult, patch_attack
from model.records import Box, PatchRun

from .runs import attribution, image_target, read_images

__all__ = ["run_patch", "patch_readout", "patch_csv", "PatchConfig"]


def run_patch(model: nn.Module, image: np.ndarray, label: int, glances: int, cfg: PatchConfig, seed: int = 0,
              target: int | None = None, progress: Callable[[float], None] | None = None,
              keep: Callable[[PatchRun], None] | None = None) -> PatchRun:
    """A patch on one (H, W, 3) image towards ``target`` (default: the image's random wrong class
    from the seed, as the page's attacks aim). When ``progress`` raises (the user stopped the
    run), ``keep`` is first handed the patch reached so far."""
    check_glances(glances)
    check_image_array(image)
    num_classes = model.config.num_classes
    if not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        raise ValueError(f"label must be a class index in [0, {num_classes}), got {label!r}")
    aim = image_target(image, label, num_classes, seed) if target is None else int(target)
    if not 0 <= aim < num_classes or aim == label:
        raise ValueError(f"the target must be a class index in [0, {num_classes}) other than the label {label}")
    cfg.check_fits(*image.shape[:2])
    device = model_device(model)
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None].to(device)
    clean = read_images(model, x, [glances])[0]
    callback = None if progress is None else (lambda done, total: progress(done / max(total, 1)))

    def record(result: PatchResult, finished: bool) -> PatchRun:
        patched = read_images(model, result.images, [glances])[0]
        x0, y0 = (int(v) for v in result.places[0])
        return PatchRun(result.images[0].permute(1, 2, 0).cpu().numpy(), clean, patched,
                        Box(x0, y0, x0 + cfg.size, y0 + cfg.size), int(label), aim, bool(result.success[0]),
                        result.steps, finished, int(seed), int(glances))

    def kept(partial: PatchResult) -> None:
        if keep is not None:
            keep(record(partial, False))

    result = patch_attack(model, x, torch.tensor([aim], device=device), cfg, glances=glances, seed=seed,
                          callback=callback, keep=kept)
    return record(result, True)


def _share(weights: np.ndarray, box: Box, size: tuple[int, int]) -> float:
    """The share of a non-negative (H, W) map inside ``box``."""
    total = float(weights.sum())
    x0, y0, x1, y1 = box
    return float(weights[y0:y1, x0:x1].sum() / total) if total > 0 else 0.0


def patch_readout(model: nn.Module, run: PatchRun, item: Box | None, clean_image: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """Per glance (N,) the head-averaged attention mass on the patch and on the item (when the
    image has a box), clean and patched: keys "patch, clean", "patch, patched", "item, clean",
    "item, patched". A model without attention gives one value each, from its Saliency map
    (|gradient| of the predicted class, summed over colour channels) instead."""
    size = run.image.shape[:2]
    places = {"patch": run.place} | ({} if item is None else {"item": item})
    out: dict[str, np.ndarray] = {}
    if getattr(model, "has_attention", False):
        for name, box in places.items():
            for when, pred in (("clean", run.clean), ("patched", run.prediction)):
                maps = pred.attention.mean(axis=1)  # (N, h, w)
                out[f"{name}, {when}"] = box_mass(maps, np.asarray(box), size)
        return out
    maps = {"clean": attribution(model, clean_image, run.clean.label, run.glances),
            "patched": attribution(model, run.image, run.prediction.label, run.glances)}
    for name, box in places.items():
        for when, weights in maps.items():
            out[f"{name}, {when}"] = np.array([_share(weights, box, size)])
    return out


def patch_csv(readout: dict[str, np.ndarray]) -> bytes:
    """The readout as CSV (UTF-8): one row per glance, one column per key, 4 decimals."""
    keys = list(readout)
    n = len(next(iter(readout.values())))
    lines = [",".join(["glance"] + [f'"{k}"' for k in keys])]
    lines += [",".join([str(i + 1)] + [f"{readout[k][i]:.4f}" for k in keys]) for i in range(n)]
    return ("\n".join(lines) + "\n").encode("utf-8")
