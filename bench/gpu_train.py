"""GPU numbers for the ImageNet-scale setting: S3TA-16 ResNet-50 at 224 px against the GAP
ResNet-50 baseline. For each: adversarial training throughput (PGD-10 towards random targets,
16/255, then one SGD step) in fp32 and bf16 autocast, one-image PGD-100 latency, and peak GPU
memory. Random data (the numbers are about compute, not accuracy).

    python -m bench.gpu_train --batch 64 --md bench/gpu_train.md          # on a GPU
    python -m bench.gpu_train --tiny --device cpu                          # a smoke run anywhere
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from model import AttackConfig, ModelConfig, build_model, pgd
from model.inference_form import inference_form, refold
from programs.train.config import TrainConfig
from programs.train.loop import adversarial_batch, autocast, glance_loss

ROOT = Path(__file__).resolve().parent.parent


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def configs(tiny: bool, glances: int) -> dict[str, ModelConfig]:
    if tiny:
        common = {"backbone": "resnet50", "backbone_widths": (4, 8, 8, 8), "image_size": 64, "num_classes": 10}
        return {f"S3TA-{glances} ResNet-50": ModelConfig(**common, output_stride=16, glances=glances, heads=2,
                                                            key_channels=8, value_channels=8, lstm_size=32,
                                                            query_hidden=32, head_hidden=32, basis_size=3),
                "baseline ResNet-50": ModelConfig(arch="baseline", **common)}
    common = {"backbone": "resnet50", "image_size": 224, "num_classes": 1000}
    return {f"S3TA-{glances} ResNet-50": ModelConfig(**common, output_stride=16, glances=glances, heads=4,
                                                        key_channels=128, value_channels=512, basis_size=8,
                                                        lstm_size=1024, query_hidden=1024, head_hidden=1024),
            "baseline ResNet-50": ModelConfig(arch="baseline", **common)}


def train_rate(cfg: ModelConfig, amp: str, batch: int, steps: int, device: torch.device,
               channels_last: bool) -> tuple[float, float]:
    """(images per second, peak memory GB) of adversarial training steps."""
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    tc = TrainConfig(amp=amp)
    attack = AttackConfig(eps=16 / 255, steps=10, step_size=2.5 * 16 / 255 / 10, target="random", early_stop=False)
    x = torch.rand(batch, 3, cfg.image_size, cfg.image_size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, cfg.num_classes, (batch,), device=device)
    glances = model.default_glances

    form = inference_form(model)

    def step(i: int) -> None:
        refold(form, model)
        adv = adversarial_batch(form, x, y, attack, glances, seed=i, cfg=tc)
        with autocast(device, tc):
            out = model(adv, glances=glances)
        loss = glance_loss(out.step_logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    step(0)  # warm-up (cuDNN autotune, allocator)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t = time.perf_counter()
    for i in range(steps):
        step(i + 1)
    sync(device)
    rate = batch * steps / (time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else float("nan")
    return rate, peak


def pgd_latency(cfg: ModelConfig, device: torch.device, steps: int, repeats: int) -> float:
    """Median seconds for PGD-``steps`` on one image (no early stop), fp32."""
    torch.manual_seed(0)
    model = inference_form(build_model(cfg).to(device).eval())  # as the attacks run it
    x = torch.rand(1, 3, cfg.image_size, cfg.image_size, device=device)
    y = torch.zeros(1, dtype=torch.long, device=device)
    attack = AttackConfig(eps=16 / 255, steps=steps, target="random", early_stop=False)
    glances = model.default_glances
    pgd(model, x, y, AttackConfig(eps=16 / 255, steps=2), glances=glances)  # warm-up
    times = []
    for r in range(repeats):
        sync(device)
        t = time.perf_counter()
        pgd(model, x, y, attack, glances=glances, seed=r)
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10, help="timed training steps")
    ap.add_argument("--glances", type=int, default=16)
    ap.add_argument("--pgd-steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-channels-last", action="store_true")
    ap.add_argument("--tiny", action="store_true", help="reduced widths and 64 px: a smoke run")
    ap.add_argument("--md", default=None)
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
        torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [f"Device: {name}; batch {args.batch}; {'tiny models (smoke run)' if args.tiny else '224 px'}; "
             f"channels_last {not args.no_channels_last}; torch {torch.__version__}", "",
             "| model | train img/s fp32 | train img/s bf16 | bf16 / fp32 | peak GB fp32 | peak GB bf16 "
             f"| PGD-{args.pgd_steps} one image (s) |", "|---|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for label, cfg in configs(args.tiny, args.glances).items():
        fp32, mem32 = train_rate(cfg, "none", args.batch, args.steps, device, not args.no_channels_last)
        print(f"  ({label}: fp32 {fp32:.1f} img/s)", flush=True)  # partial rows survive a time limit
        bf16, mem16 = train_rate(cfg, "bf16", args.batch, args.steps, device, not args.no_channels_last)
        print(f"  ({label}: bf16 {bf16:.1f} img/s)", flush=True)
        latency = pgd_latency(cfg, device, args.pgd_steps, args.repeats)
        lines.append(f"| {label} | {fp32:.1f} | {bf16:.1f} | {bf16 / fp32:.2f} | {mem32:.1f} | {mem16:.1f} "
                     f"| {latency:.3f} |")
        print(lines[-1], flush=True)
    if args.md:  # the table was printed row by row above
        Path(args.md).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
