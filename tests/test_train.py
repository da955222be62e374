"""Training: the loss goes down, resume is exact, and a real 2-process DDP run (gloo)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model import ModelConfig, build_model, load_model
from model.data import make_batch
from model.inference_form import inference_form
from programs.train import (
    AdvConfig,
    adversarial_batch,
    get_args_parser,
    glance_loss,
    main,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--set", "model.backbone_widths=[8,16,16]", "--set", "model.lstm_size=32",
        "--set", "model.query_hidden=32", "--set", "model.head_hidden=32", "--set", "model.heads=2",
        "--set", "train.train_size=64", "--set", "train.val_size=16", "--set", "train.batch_size=16",
        "--set", "train.warmup_steps=1", "--set", "train.glances_max=3", "--no-progress"]


@pytest.mark.slow
def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    model = build_model(ModelConfig(backbone_widths=(8, 16, 32), lstm_size=64)).train()
    x, y, _ = make_batch("train", range(32))
    opt = torch.optim.AdamW(model.parameters(), 3e-3)
    losses = []
    for _ in range(40):
        loss = glance_loss(model(x, glances=3).step_logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_last_glance_loss_ignores_earlier_glances():
    torch.manual_seed(0)
    logits = torch.randn(4, 3, 5, requires_grad=True)  # (B, N, C)
    y = torch.tensor([0, 1, 2, 3])
    last = glance_loss(logits, y, "last")
    assert torch.allclose(last, torch.nn.functional.cross_entropy(logits[:, -1], y))
    last.backward()
    assert logits.grad[:, :-1].abs().sum() == 0 and logits.grad[:, -1].abs().sum() > 0
    every = glance_loss(logits, y)  # the default: the mean over glances
    assert torch.allclose(every, torch.stack([torch.nn.functional.cross_entropy(logits[:, t], y)
                                              for t in range(3)]).mean())


def test_adversarial_batch_keeps_the_ball_and_leaves_the_trained_model_alone():
    model = build_model(ModelConfig(backbone_widths=(8, 16, 32))).train()
    x, y, _ = make_batch("train", range(8))
    attack = AdvConfig(method="pgd", eps=8 / 255, steps=2).attack()
    adv = adversarial_batch(inference_form(model), x, y, attack, glances=2, seed=0)
    assert model.training
    assert (adv - x).abs().max() <= 8 / 255 + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1 and not torch.equal(adv, x)
    assert all(p.grad is None for p in model.parameters())


def test_noisy_batch_fills_a_random_sign_ball_reproducibly():
    from programs.train.loop import noisy_batch
    x = torch.full((64, 3, 8, 8), 0.5)
    z = noisy_batch(x, 0.1, seed=3)
    delta = z - x
    amplitude = delta.abs().amax(dim=(1, 2, 3))
    assert amplitude.max() <= 0.1 + 1e-6 and amplitude.min() < 0.05  # per image, drawn from U(0, eps)
    assert torch.allclose(delta.abs(), amplitude.view(-1, 1, 1, 1).expand_as(delta))  # one size per image
    assert 0.4 < (delta > 0).float().mean() < 0.6  # random signs
    assert torch.equal(z, noisy_batch(x, 0.1, seed=3)) and not torch.equal(z, noisy_batch(x, 0.1, seed=4))
    assert noisy_batch(torch.ones(2, 3, 4, 4), 0.5, seed=0).max() <= 1  # stays an image


@pytest.mark.parametrize("value", [-0.1, 1.5, "big"])
def test_noise_eps_out_of_range_is_refused(value):
    from programs.train.config import TrainConfig
    with pytest.raises(ValueError, match="noise_eps"):
        TrainConfig(noise_eps=value)


@pytest.mark.slow
def test_cli_trains_saves_and_resumes_exactly(tmp_path):
    args = get_args_parser().parse_args(["--out", str(tmp_path / "a"), "--set", "train.epochs=2",
                                         "--set", 'train.adv={"method": "fgsm"}', *TINY])
    final = main(args)
    assert len(final["history"]) == 2 and "train_adv_loss" in final["history"][0]
    assert final["recipe"]["adv"]["method"] == "fgsm"
    assert "programs.train" in final["command"]
    straight = load_model(tmp_path / "a" / "model.safetensors")

    # one epoch, then resume for the second: the same weights as two epochs straight
    main(get_args_parser().parse_args(["--out", str(tmp_path / "b"), "--set", "train.epochs=2",
                                       "--set", 'train.adv={"method": "fgsm"}', *TINY,
                                       "--stop-after", "1"]))
    assert not (tmp_path / "b" / "model.safetensors").exists()
    main(get_args_parser().parse_args(["--out", str(tmp_path / "b"), "--set", "train.epochs=2",
                                       "--set", 'train.adv={"method": "fgsm"}', *TINY,
                                       "--resume", str(tmp_path / "b" / "last.safetensors")]))
    resumed = load_model(tmp_path / "b" / "model.safetensors")
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)
    assert len(json.loads((tmp_path / "b" / "metrics.json").read_text())) == 2


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "programs.train", "--out", str(tmp_path / "ddp"), "--set", "train.epochs=2",
           "--threads", "1", *TINY]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = load_model(tmp_path / "ddp" / "model.safetensors")
    meta = model.metadata
    assert meta["world_size"] == 2 and meta["command"].startswith("torchrun --nproc_per_node=2")
    history = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    # 64 canvases per epoch, split by DistributedSampler over 2 ranks of 2 batches of 16: the
    # all-reduced count is every canvas once per epoch (not one rank's 32, not 128 twice-counted)
    assert [h["train_examples"] for h in history] == [64, 64]
    assert all(0.0 <= h["train_loss"] < 5 for h in history)
