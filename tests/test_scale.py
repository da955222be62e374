"""The ImageNet-scale path, shrunk to run here without a GPU: an image folder written by the
test, a reduced-width ResNet-50 S3TA trained adversarially under torchrun with two gloo
processes, gradient accumulation, checkpoint, resume, distributed evaluation, and the app's
loader opening the result. Plus the paper-setting configs, the transforms and the weight fetcher."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from compute.catalog import list_checkpoints, load_uploaded
from model import ModelConfig, build_model
from model.backbone import load_backbone_weights
from model.data import ImageFolder
from model.data.transforms import (
    EvalTransform,
    TrainTransform,
    center_crop,
    random_resized_crop,
)
from model.pretrained import fetch_backbone_weights
from programs.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ["bars", "disc", "square"]  # sorted, as the folder lists them
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def draw(kind: str, rng: np.random.Generator) -> Image.Image:
    """A coloured shape on a noisy background, at a random size and aspect (so crops matter)."""
    w, h = int(rng.integers(56, 96)), int(rng.integers(56, 96))
    a = rng.uniform(0, 0.3, (h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy, r = w / 2 + rng.uniform(-6, 6), h / 2 + rng.uniform(-6, 6), min(w, h) * rng.uniform(0.25, 0.4)
    mask = {"disc": (xx - cx) ** 2 + (yy - cy) ** 2 < r ** 2,
            "bars": ((xx // 6) % 2 == 0) & (abs(yy - cy) < r),
            "square": (abs(xx - cx) < r) & (abs(yy - cy) < r)}[kind]
    a[mask] = {"disc": (0.9, 0.2, 0.2), "bars": (0.2, 0.9, 0.2), "square": (0.2, 0.3, 0.9)}[kind]
    return Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagefolder")
    rng = np.random.default_rng(0)
    for split, n in (("train", 32), ("val", 8)):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                draw(c, rng).save(root / split / c / f"{i:03d}.{'png' if i % 2 else 'jpg'}")
    return root


def tiny_resnet50(folder: Path) -> list[str]:
    return ["--set", "model.backbone=resnet50", "--set", "model.backbone_widths=[4,8,8,8]",
            "--set", "model.image_size=64", "--set", "model.output_stride=16", "--set", "model.num_classes=3",
            "--set", "model.glances=3", "--set", "model.heads=2", "--set", "model.key_channels=8",
            "--set", "model.value_channels=8", "--set", "model.lstm_size=32", "--set", "model.query_hidden=32",
            "--set", "model.head_hidden=32", "--set", "model.basis_size=3",
            "--set", "train.task=imagefolder", "--set", f"train.data_root={folder}",
            "--set", "train.batch_size=8", "--set", "train.accum_steps=2", "--set", "train.epochs=4",
            "--set", "train.lr=0.003", "--set", "train.warmup_steps=2", "--set", "train.glances_min=1",
            "--set", "train.glances_max=3", "--set", "train.num_workers=1",
            "--set", "train.adv={\"method\": \"pgd\", \"eps\": 0.0627, \"steps\": 2}",
            "--threads", "1", "--no-progress"]


def torchrun(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.mark.slow
def test_resnet50_s3ta_trains_resumes_and_evaluates_under_torchrun(folder, tmp_path):
    out = tmp_path / "run"
    torchrun("-m", "programs.train", "--out", str(out), "--stop-after", "2", *tiny_resnet50(folder))
    assert not (out / "model.safetensors").exists() and (out / "last.safetensors").exists()
    one = subprocess.run([sys.executable, "-m", "programs.train", "--out", str(out), "--resume",
                          str(out / "last.safetensors"),
                          "--stop-after", "1", *tiny_resnet50(folder)], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, timeout=300)  # a 2-rank checkpoint resumed on one process...
    assert one.returncode == 0, one.stderr[-3000:]
    torchrun("-m", "programs.train", "--out", str(out), "--resume", str(out / "last.safetensors"),
             *tiny_resnet50(folder))  # ...and finished on two again
    history = json.loads((out / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["train_adv_loss"] < history[0]["train_adv_loss"]

    entries, problems = list_checkpoints([out])  # what the app lists from a models folder
    assert not problems
    final = next(e for e in entries if e.path.name == "model.safetensors")
    assert final.metadata["class_names"] == CLASSES and final.metadata["world_size"] == 2
    assert final.metadata["recipe"]["accum_steps"] == 2
    model = load_uploaded((out / "model.safetensors").read_bytes())  # the app's upload path
    assert model.config.backbone == "resnet50" and model.config.image_size == 64

    report = tmp_path / "eval.json"
    evaluate = ["-m", "programs.evaluate", "folder", "--checkpoint", str(out / "model.safetensors"),
                "--root", str(folder / "val"), "--glances", "1", "3", "--steps", "0", "2", "--eps", "16",
                "--batch-size", "5", "--threads", "1", "--device", "cpu"]
    torchrun(*evaluate, "--json", str(report))
    two = json.loads(report.read_text())
    assert two["world_size"] == 2 and two["command"].startswith("torchrun --nproc_per_node=2")
    single = subprocess.run([sys.executable, *evaluate, "--json", str(tmp_path / "one.json")], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    one = json.loads((tmp_path / "one.json").read_text())
    key = [(r["glances"], r["steps"]) for r in one["rows"]]
    assert key == [(1, 0), (1, 2), (3, 0), (3, 2)] and all(r["n"] == 24 for r in two["rows"])
    for a, b in zip(one["rows"], two["rows"]):  # the shards add up to the single-process answer
        assert (a["acc"], a["attack_success"]) == (b["acc"], b["attack_success"])
    clean = {r["glances"]: r["acc"] for r in one["rows"] if r["steps"] == 0}
    assert clean[3] > 1 / 3  # better than chance after a few adversarial steps


@pytest.mark.slow
def test_paper_configs_build_with_the_right_attention_maps():
    from programs.train.config import load_configs

    for name, maps, glances in (("imagenet_s3ta_r50_os16_g4", 14, 4), ("imagenet_s3ta_r50_os8_g16", 28, 16),
                                ("imagenet_s3ta_r152_os16_g4", 14, 4), ("imagenet_s3ta_r152_os8_g16", 28, 16)):
        model_cfg, train_cfg = load_configs(ROOT / "configs" / f"{name}.json")
        assert (model_cfg.image_size, model_cfg.num_classes, model_cfg.glances) == (224, 1000, glances)
        assert train_cfg.adv.method == "pgd" and train_cfg.adv.eps == pytest.approx(16 / 255)
        assert train_cfg.adv.target == "random" and train_cfg.amp == "bf16"
        with torch.device("meta"):
            model = build_model(model_cfg)
            out = model(torch.zeros(1, 3, 224, 224, device="meta"), glances=1)
        assert tuple(out.attention.shape[-2:]) == (maps, maps)


def test_transforms_crop_flip_and_centre(folder):
    im = Image.open(next((folder / "train" / "disc").glob("*.png"))).convert("RGB")
    rng = np.random.default_rng(0)
    crops = [random_resized_crop(im, 32, rng) for _ in range(5)]
    assert all(c.size == (32, 32) for c in crops)
    assert len({np.asarray(c).tobytes() for c in crops}) == 5  # random
    t = TrainTransform(32, seed=3)
    np.testing.assert_array_equal(t(im, 7), t(im, 7))  # seeded per (epoch seed, index)
    assert not torch.equal(t(im, 7), t(im, 8))
    wide = Image.new("RGB", (200, 100))
    assert center_crop(wide, 64).size == (64, 64)
    x = EvalTransform(64)(im, 0)
    assert x.shape == (3, 64, 64) and 0 <= float(x.min()) and float(x.max()) <= 1
    ds = ImageFolder(folder / "val", 64, EvalTransform(64), classes=CLASSES)
    assert len(ds) == 24 and ds[0][0].shape == (3, 64, 64)
    with pytest.raises(ValueError, match="lacks"):
        ImageFolder(folder / "val", 64, classes=CLASSES[:2])


def test_train_config_checks_the_scale_options():
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp16")
    with pytest.raises(ValueError, match="accum_steps"):
        TrainConfig(accum_steps=0)


def test_backbone_weights_fetch_from_a_local_url_and_load(tmp_path):
    backbone = build_model(ModelConfig(backbone="resnet18", backbone_widths=(4, 8, 8, 8), image_size=64)).backbone
    src = tmp_path / "resnet18-local.pth"
    torch.save({**{k: torch.randn_like(v) if v.is_floating_point() else v for k, v in backbone.state_dict().items()},
                "fc.weight": torch.zeros(10, 8), "fc.bias": torch.zeros(10)}, src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    got = fetch_backbone_weights("resnet18", tmp_path / "cache", url=src.as_uri(), sha256_prefix=digest[:8])
    assert got.read_bytes() == src.read_bytes()
    load_backbone_weights(backbone, got)
    torch.testing.assert_close(backbone.conv1.weight, torch.load(src, weights_only=True)["conv1.weight"])
    with pytest.raises(ValueError, match="sha256"):
        fetch_backbone_weights("resnet18", tmp_path / "other", url=src.as_uri(), sha256_prefix="00000000")
    with pytest.raises(ValueError, match="name must be"):
        fetch_backbone_weights("vgg16", tmp_path)


@pytest.mark.slow
def test_bf16_channels_last_and_backbone_weights_in_one_process(folder, tmp_path):
    """The GPU options run on CPU too (autocast to bfloat16, NHWC): one short epoch, starting
    from a torchvision-format backbone state dict whose hash lands in the metadata."""
    cfg = ModelConfig(backbone="resnet50", backbone_widths=(4, 8, 8, 8), image_size=64, output_stride=16)
    weights = tmp_path / "resnet50-local.pth"
    torch.save(build_model(cfg).backbone.state_dict(), weights)
    out = tmp_path / "bf16"
    names = tmp_path / "names.txt"
    names.write_text("bars n0001 striped thing, stripes\ndisc round disc\nsquare a square\nextra unused\n")
    args = [*tiny_resnet50(folder), "--set", "train.epochs=1", "--set", "train.amp=bf16",
            "--set", f"train.class_names_file={names}",
            "--set", "train.channels_last=true", "--set", f"train.backbone_weights={weights}",
            "--set", "train.steps_per_epoch=2", "--set", "train.num_workers=0"]
    proc = subprocess.run([sys.executable, "-m", "programs.train", "--out", str(out), *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((out / "model.json").read_text())
    assert meta["backbone_weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta["recipe"]["amp"] == "bf16" and np.isfinite(meta["history"][0]["train_adv_loss"])
    assert meta["class_names"] == ["n0001 striped thing", "round disc", "a square"]
    assert meta["class_folders"] == CLASSES
    ev = subprocess.run([sys.executable, "-m", "programs.evaluate", "folder", "--checkpoint",
                         str(out / "model.safetensors"),
                         "--root", str(folder / "val"), "--glances", "2", "--steps", "0", "--n", "24",
                         "--device", "cpu", "--json", str(tmp_path / "e.json")], cwd=ROOT, env=ENV,
                        capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr[-3000:]  # val folders found through class_folders
    assert json.loads((tmp_path / "e.json").read_text())["rows"][0]["n"] == 24

    # the app opens it: upload the checkpoint and an image, attack, read the readable names
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="model_choice").set_value("Upload a checkpoint…").run()
    at.sidebar.file_uploader(key="ckpt_upload").set_value(
        ("r50.safetensors", (out / "model.safetensors").read_bytes(), "application/octet-stream")).run()
    assert any("64 px" in w.value for w in at.warning)  # the 96 px gallery does not fit
    at.sidebar.radio(key="source").set_value("Upload").run()
    image = next((folder / "val" / "disc").glob("*.png")).read_bytes()
    at.sidebar.file_uploader(key="image_upload").set_value(("disc.png", image, "image/png")).run()
    at.sidebar.button(key="run_attack").click().run()
    assert not at.exception, at.exception
    shown = [m.value for m in at.markdown if m.value.startswith("**Clean: ") or m.value.startswith("**Adversarial: ")]
    assert len(shown) == 2 and all(any(n in v for n in meta["class_names"]) for v in shown)


@pytest.mark.slow
def test_gpu_bench_script_runs_its_smoke_mode():
    proc = subprocess.run([sys.executable, "-m", "bench.gpu_train", "--tiny", "--device", "cpu", "--batch", "2",
                           "--steps", "1", "--pgd-steps", "2", "--repeats", "1"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| S3TA") or line.startswith("| baseline")]
    assert len(rows) == 2 and all(float(r.split("|")[2]) > 0 for r in rows)


@pytest.mark.slow
def test_robustness_grid_sharded_over_two_ranks_equals_one_process(tmp_path):
    grid = ["-m", "programs.evaluate", "grid", "--num-examples", "20", "--glances", "1", "2", "--steps", "0", "2",
            "--eps", "8",
            "--targets", "random", "--batch-size", "5", "--threads", "1", "--device", "cpu"]
    torchrun(*grid, "--out", str(tmp_path / "two"))
    one = subprocess.run([sys.executable, *grid, "--out", str(tmp_path / "one")], cwd=ROOT, env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    rows = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("one", "two")]
    assert rows[1]["command"].startswith("torchrun --nproc_per_node=2")
    assert len(rows[0]["rows"]) == len(rows[1]["rows"]) == 2 * 2 + 2  # s3ta x 2 glances, baseline once
    for a, b in zip(rows[0]["rows"], rows[1]["rows"]):
        assert (a["model"], a["glances"], a["steps"], a["acc"], a["attack_success"]) == \
               (b["model"], b["glances"], b["steps"], b["acc"], b["attack_success"])
        assert a["attention_on_item_adv"] == pytest.approx(b["attention_on_item_adv"], abs=1e-9)
