"""The natural-photo attention head: it starts as the pretrained network, round-trips through a
small checkpoint (the trunk comes from the package), and its distillation runs end to end."""

import numpy as np
import pytest
import torch
from PIL import Image

from model import build_model
from model.checkpoint import load_checkpoint, save_checkpoint
from model.efficientnet_lite import load_pretrained
from model.imagenet_names import imagenet_class_names
from model.photo_attention import photo_config
from programs.distill import get_args_parser, main
from programs.distill.cli import attention_entropy, cache, distill_loss
from programs.distill.measure import box_attention
from programs.distill.scenes import Scene, composite, make_views, object_view

from .conftest import ROOT
from .test_efficientnet_lite import photo


@pytest.fixture(scope="module")
def fresh():
    torch.manual_seed(0)
    return build_model(photo_config(glances=3)).eval()


def test_an_untrained_head_is_the_pretrained_network_with_uniform_attention(fresh):
    x = torch.cat([photo("chelsea"), photo("coffee")])
    with torch.no_grad():
        out = fresh(x)
        reference = load_pretrained(dilate_last=True)(x)
    assert out.step_logits.shape == (2, 3, 1000) and out.attention.shape == (2, 3, 4, 14, 14)
    assert torch.allclose(out.step_logits, reference[:, None].expand(-1, 3, -1), atol=1e-4)
    assert torch.allclose(out.attention, torch.full_like(out.attention, 1 / 196))


def test_belief_query_starts_as_the_plain_head_and_adds_the_believed_class_evidence():
    torch.manual_seed(0)
    plain = build_model(photo_config(glances=2, output_stride=32))
    believer = build_model(photo_config(glances=2, output_stride=32, belief_query=True))
    believer.load_state_dict({**plain.state_dict(), "belief": torch.zeros(4)})
    fmap = torch.randn(2, 1280, 7, 7)
    with torch.no_grad():
        a, b = plain.attend_map(fmap, 2), believer.attend_map(fmap, 2)
        assert torch.allclose(a.step_logits, b.step_logits, atol=1e-5)
        believer.belief.copy_(torch.tensor([0.0, 0.5, 1.0, 2.0]))
        out = believer.attend_map(fmap, 2)
    # glance 1 by hand: the even pooling's class distribution weights the classifier's rows
    fc, values = believer.trunk._fc, fmap.flatten(2).transpose(1, 2)  # (B, 49, C)
    p = fc(values.mean(1)).softmax(-1)
    evidence = torch.stack([torch.stack([(p[b] * (fc.weight @ values[b, n])).sum() for n in range(49)])
                            for b in range(2)])  # (B, 49)
    for head, scale in enumerate((0.0, 0.5, 1.0, 2.0)):  # zero queries at glance 1: only the evidence
        expected = (scale * evidence).softmax(-1).view(2, 7, 7)
        assert torch.allclose(out.attention[:, 0, head], expected, atol=1e-5)
    assert believer.belief.requires_grad and "belief" in believer.state_dict()
    from model.inference_form import inference_form
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():  # the app's form of a belief head: the same outputs
        eager, form = believer(x), inference_form(believer)(x)
    assert torch.allclose(eager.logits, form.logits, atol=1e-3)
    assert torch.allclose(eager.attention, form.attention, atol=1e-5)


def test_checkpoint_holds_the_head_only_and_round_trips(fresh, tmp_path):
    with torch.no_grad():
        for p in fresh.query.parameters():
            p.normal_(0, 0.05)  # a head that looks somewhere
    assert not any(k.startswith("trunk.") for k in fresh.state_dict())
    path = save_checkpoint(fresh, tmp_path / "p.safetensors", {"class_names": imagenet_class_names()})
    assert path.stat().st_size < 6e6  # the 4.7M-parameter trunk is not in it
    loaded, meta, _ = load_checkpoint(path)
    x = photo("rocket")
    with torch.no_grad():
        a, b = fresh(x), loaded(x)
    assert torch.allclose(a.logits, b.logits, atol=1e-5) and torch.allclose(a.attention, b.attention, atol=1e-6)
    assert not torch.allclose(a.attention, torch.full_like(a.attention, 1 / 196))
    assert len(meta["class_names"]) == 1000


def test_composite_box_and_views_are_pure_functions_of_seed_and_index():
    background = np.zeros((224, 224, 3), np.uint8)
    cutout = np.zeros((10, 20, 4), np.uint8)
    cutout[..., 0], cutout[..., 3] = 255, 255  # an opaque red rectangle, twice as wide as high
    scene = composite(background, cutout, np.random.default_rng(0), side=(0.5, 0.5))
    x0, y0, x1, y1 = scene.box
    assert (x1 - x0, y1 - y0) == (112, 56)
    red = scene.image[..., 0] > 128
    assert red[y0:y1, x0:x1].all() and red.sum() == 112 * 56
    photos = [np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)]
    a, b = make_views(photos, [cutout], 6, seed=3), make_views(photos, [cutout], 6, seed=3)
    assert all(np.array_equal(u.image, v.image) and u.box == v.box for u, v in zip(a, b))
    assert any(v.box for v in a) and any(v.box is None for v in a)


def test_uniform_attention_puts_the_box_share_in_the_box(fresh):
    rng = np.random.default_rng(0)
    scenes = [Scene(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8), (16, 32, 112 + 16 * i, 200))
              for i in range(3)]
    fresh_uniform = build_model(photo_config(glances=2)).eval()
    stats = box_attention(fresh_uniform, scenes, glances=2)
    assert stats["ratio"] == pytest.approx(1.0, abs=1e-6) and stats["n"] == 3


@pytest.mark.slow
def test_distillation_lowers_the_loss_on_cached_views():
    torch.manual_seed(0)
    model = build_model(photo_config(glances=2))
    teacher = load_pretrained()
    views = [Scene((photo(n)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8), None)
             for n in ("chelsea", "coffee", "rocket", "astronaut")]
    maps, logits = cache(model, teacher, views)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], 3e-3)
    losses = []
    for _ in range(15):
        loss = distill_loss(model.attend_map(maps.float(), 2).step_logits, logits, 0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    assert all(p.grad is None for p in model.trunk.parameters())  # the trunk stays frozen


@pytest.mark.slow
def test_distill_cli_writes_a_labelled_checkpoint(tmp_path):
    photos, cutouts = tmp_path / "photos", tmp_path / "cutouts"
    photos.mkdir()
    cutouts.mkdir()
    for i, name in enumerate(("chelsea", "coffee")):
        Image.fromarray((photo(name, 300)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(photos / f"{i}.jpg")
    rgba = np.zeros((40, 30, 4), np.uint8)
    rgba[5:35, 5:25] = (250, 200, 0, 255)
    Image.fromarray(rgba).save(cutouts / "obj.png")
    out = tmp_path / "head.safetensors"
    meta = main(get_args_parser().parse_args(["--images", str(photos), "--cutouts", str(cutouts), "--holdout",
                                              str(photos), "--holdout-cutouts", str(cutouts), "--views", "8",
                                              "--holdout-views", "4", "--epochs", "2", "--batch-size", "4",
                                              "--glances", "2", "--evidence-weight", "0.5", "--out", str(out)]))
    model, stored, _ = load_checkpoint(out)
    assert stored["description"].startswith("An attention head on a pretrained ImageNet classifier")
    assert stored["class_names"][285] == "Egyptian Mau" and len(meta["history"]) == 2
    assert stored["input_fit"] == "crop"
    assert set(stored["metrics"]["holdout_agreement"]) == {"1", "2", "4", "8"}
    assert model.default_glances == 2


def test_attention_entropy_is_log_n_when_uniform_and_zero_when_peaked():
    uniform = torch.full((2, 3, 4, 14, 14), 1 / 196)
    peaked = torch.zeros(2, 3, 4, 14, 14)
    peaked[..., 5, 7] = 1.0
    assert attention_entropy(uniform).item() == pytest.approx(np.log(196), rel=1e-5)
    assert attention_entropy(peaked).item() == pytest.approx(0.0, abs=1e-6)
    assert 0 < attention_entropy((peaked + uniform) / 2).item() < np.log(196)


@pytest.mark.parametrize("flag,value", [("--views", "0"), ("--sharpen", "0"), ("--epochs", "-1"), ("--heads", "0"),
                                        ("--entropy-weight", "-1"), ("--evidence-weight", "-1"),
                                        ("--evidence-tau", "0")])
def test_distill_cli_refuses_bad_settings(tmp_path, flag, value):
    with pytest.raises(SystemExit):
        main(get_args_parser().parse_args(["--images", str(tmp_path), flag, value]))


def test_inference_form_folds_every_trunk_batchnorm_and_keeps_the_outputs(fresh):
    from model.inference_form import inference_form
    form = inference_form(fresh)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in form.modules())
    x = photo("coffee")
    with torch.no_grad():
        a, b = fresh(x), form(x)
    assert torch.allclose(a.logits, b.logits, atol=1e-3) and torch.allclose(a.attention, b.attention, atol=1e-5)


@pytest.mark.slow
def test_distill_cache_is_reused_only_for_the_same_views(tmp_path, monkeypatch):
    from programs.distill import cli
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray((photo("coffee", 260)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(photos / "c.jpg")
    store = tmp_path / "cache.pt"
    args = ["--images", str(photos), "--views", "4", "--epochs", "1", "--batch-size", "4", "--glances", "1",
            "--cache", str(store)]
    first = main(get_args_parser().parse_args([*args, "--out", str(tmp_path / "a.safetensors")]))
    assert store.exists()

    def no_recompute(*a, **k):
        raise AssertionError("the cached views should have been reused")
    monkeypatch.setattr(cli, "cache", no_recompute)
    second = main(get_args_parser().parse_args([*args, "--out", str(tmp_path / "b.safetensors")]))
    assert second["history"] == first["history"]  # the same maps, the same seed: the same training
    with pytest.raises(AssertionError, match="reused"):  # other views (another seed): computed afresh
        main(get_args_parser().parse_args([*args, "--seed", "1", "--out", str(tmp_path / "c.safetensors")]))


def test_object_view_crops_the_box_square_and_stays_inside():
    image = np.zeros((224, 224, 3), np.uint8)
    image[180:220, 190:220] = (250, 0, 0)  # an object near the corner
    view = object_view(Scene(image, (190, 180, 220, 220)))
    assert view.shape == (224, 224, 3)
    red = (view[..., 0] > 200).mean()
    assert 0.4 < red < 0.8  # the object fills most of the view, with a margin around it
    with pytest.raises(ValueError, match="no pasted object"):
        object_view(Scene(image, None))


def test_object_teacher_reads_the_objects_of_scenes_only(fresh):
    class MeanRed(torch.nn.Module):  # a stand-in teacher: its "logits" say how red the view is
        def forward(self, x):
            return x[:, :1].mean(dim=(2, 3)).repeat(1, 1000)

    image = np.zeros((224, 224, 3), np.uint8)
    image[100:140, 100:140] = (255, 0, 0)
    views = [Scene(image, (100, 100, 140, 140)), Scene(image, None)]
    _, whole = cache(fresh, MeanRed(), views)
    _, objects = cache(fresh, MeanRed(), views, object_teacher=True)
    assert objects[0, 0] > 0.5 > whole[0, 0]  # the scene's teacher saw the object up close
    torch.testing.assert_close(objects[1], whole[1])  # a plain crop keeps its teacher


def test_class_names_are_short_distinct_and_the_shipped_head_uses_them():
    from model.checkpoint import read_metadata
    names = imagenet_class_names()
    assert len(set(names)) == 1000
    assert not [n for n in names if n.startswith(("a ", "an ")) or n.endswith(")") and n.split("(")[-1][:-1].isdigit()]
    assert (names[657], names[744], names[282]) == ("missile", "projectile", "tiger cat")
    assert read_metadata(ROOT / "assets" / "photo_attention.safetensors")["class_names"] == names
