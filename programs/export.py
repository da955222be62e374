"""Render the app's exports for a folder of images without the browser::

    s3ta-export IMAGES_DIR --out exports/ --glances 8 --eps 8 --steps 20

Per image: an animated GIF, a WebM video, a PNG strip, a standalone HTML page and an NPZ (see
``viz.files``), after the same attack the app runs.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch

from compute.catalog import open_checkpoint
from compute.domain import domain_verdict
from compute.images import FIT_MODES, ImageError, prepare_image
from compute.runs import run_attack, step_size_from_255
from model.attacks import AttackConfig
from model.checkpoint import DEFAULT_CHECKPOINT, file_sha256
from model.data.imagefolder import IMAGE_EXTENSIONS
from model.inference import predict
from viz.files import FORMATS, export_metadata, export_stem, render_exports
from viz.frames import Display, Shown, auto_zoom

__all__ = ["get_args_parser", "main", "cli"]


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser("s3ta-export", description="Render the app's exports "
                                "(GIF, WebM, PNG strip, HTML, NPZ) for every image in a folder.")
    p.add_argument("images", type=Path, help="a folder of images (or one image file)")
    p.add_argument("--out", type=Path, required=True, help="folder for the exports")
    p.add_argument("--checkpoint", type=Path, default=None, help="safetensors checkpoint (default: shipped)")
    p.add_argument("--glances", type=int, default=None, help="glance count (default: the model's)")
    p.add_argument("--eps", type=float, default=8.0, help="attack radius: /255 units for linf, "
                   "pixel-space L2 norm for l2; 0 exports the clean image only")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--step-size", type=step_size_from_255, default=None,
                   help="L-inf step in /255, or 'auto' (default): the protocol's max(1/255, eps/steps)")
    p.add_argument("--norm", choices=["linf", "l2"], default="linf")
    p.add_argument("--target", default="random", help="random, untargeted, or a class index or name")
    p.add_argument("--restarts", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fit", choices=FIT_MODES, default=None,
                   help="how an image is made square (default: the checkpoint's own input_fit, as in the app)")
    p.add_argument("--head", type=int, default=None, help="one head (default: mean over heads)")
    p.add_argument("--cmap", default="inferno")
    p.add_argument("--fps", type=float, default=2.0)
    p.add_argument("--formats", default=",".join(FORMATS), help=f"comma list of {FORMATS}")
    p.add_argument("--device", default=None)
    return p


def main(args: argparse.Namespace) -> list[Path]:
    """Write ``<stem>[_adv].<format>`` per image into ``args.out`` (the page's download names);
    returns the written paths."""
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise SystemExit(f"--formats must be a comma list of {FORMATS}, got {args.formats!r}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    ckpt = args.checkpoint or DEFAULT_CHECKPOINT
    model = open_checkpoint(ckpt, device)
    names = list(model.class_names)
    fit = args.fit or model.info.input_fit
    glances = model.glances_for(args.glances)
    if args.target in ("random", "untargeted"):
        target, target_class = args.target, None
    else:
        target = "class"
        target_class = int(args.target) if args.target.isdigit() else (
            names.index(args.target) if args.target in names else None)
        if target_class is None:
            raise SystemExit(f"--target must be random, untargeted, a class index or one of {names}")
    eps = args.eps / 255 if args.norm == "linf" else args.eps
    if args.step_size is not None and args.norm != "linf":
        raise SystemExit("--step-size is for L-inf attacks (L2 steps follow the protocol)")
    cfg = None if args.eps == 0 else AttackConfig(norm=args.norm, eps=eps, steps=args.steps, step_size=args.step_size,
                                                  target=target, target_class=target_class, restarts=args.restarts)
    display = Display(head=args.head, cmap=args.cmap, zoom=auto_zoom(model.config.image_size))
    files = [args.images] if args.images.is_file() else sorted(
        p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise SystemExit(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {args.images}")
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = {"name": Path(ckpt).name, "sha256": file_sha256(ckpt)}
    written = []
    for path in files:
        data = path.read_bytes()
        try:
            prepared = prepare_image(data, model.config.image_size, fit)
        except ImageError as exc:
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        image = prepared.image
        verdict = domain_verdict(model, image, prepared.own_pixels)
        if verdict.outside:
            print(f"{path.name}: far from the training data: {verdict.sentence()}", file=sys.stderr)
        clean = predict(model, image, glances)
        attack = None
        if cfg is not None:
            if cfg.target == "class" and target_class == clean.label:
                print(f"{path.name}: already predicted as the target class; no attack", file=sys.stderr)
            else:
                attack = run_attack(model, image, clean.label, glances, cfg, args.seed)
        shown = Shown(image, clean, attack, names)
        meta = export_metadata(shown, checkpoint, path.name, hashlib.sha256(data).hexdigest(), glances)
        meta["domain"] = verdict.record()
        files = render_exports(shown, display, meta, formats, args.fps, f"S3TA Lab: {path.name}")
        for fmt, data in files.items():
            target_path = args.out / f"{export_stem(path.name, attack is not None)}.{fmt}"
            target_path.write_bytes(data)
            written.append(target_path)
        outcome = "" if attack is None else (f" -> {names[attack.prediction.label]}"
                                             f" ({'success' if attack.success else 'failed'})")
        print(f"{path.name}: {names[clean.label]}{outcome}")
    return written


def cli() -> None:
    main(get_args_parser().parse_args())


if __name__ == "__main__":
    cli()
