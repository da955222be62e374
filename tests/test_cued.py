"""The cued task: determinism, the spec (cue colour = the named item's, three palette items,
placement rules), the fallback slots, and the task registry used by training and evaluation."""

import numpy as np
import pytest
import torch

from model.data import CANVAS_TASKS, ClutteredFashionMNIST, check_task, load_fashion_mnist, make_batch
from model.data.cued import CUE_STYLES, ITEM_SIDE, PALETTE, cued_layout, render_cued_canvas


@pytest.fixture(scope="module")
def test_split():
    return load_fashion_mnist("test")


def _palette_index(colour: np.ndarray) -> int:
    distances = np.abs(PALETTE - colour).max(axis=1)
    assert distances.min() < 0.02, f"{colour} is not a palette colour"
    return int(distances.argmin())


def test_cued_canvas_is_a_pure_function_of_split_index_seed(test_split):
    images, labels = test_split
    a = render_cued_canvas(images, labels, "test", 5, seed=3)
    b = render_cued_canvas(images, labels, "test", 5, seed=3)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.box == b.box
    assert not np.array_equal(a.image, render_cued_canvas(images, labels, "test", 5, seed=4).image)
    assert not np.array_equal(a.image, render_cued_canvas(images, labels, "train", 5, seed=3).image)


def _keeps_clear(style, x0, y0, x1, y1) -> bool:
    """The rectangle [x0, x1) x [y0, y1) misses the style's keep-out rectangle."""
    kx, ky = CUE_STYLES[style].keep_out
    return x0 >= kx or y0 >= ky


@pytest.mark.parametrize("style", sorted(CUE_STYLES))
def test_cued_canvases_follow_the_specification(test_split, style):
    images, labels = test_split
    cx0, cy0, cx1, cy1 = CUE_STYLES[style].cue
    cue_colours = set()
    for i in range(200):
        c = render_cued_canvas(images, labels, "test", i, style=style)
        assert c.image.shape == (96, 96, 3) and c.image.dtype == np.float32
        assert 0.0 <= c.image.min() and c.image.max() <= 1.0
        assert c.label == labels[i] and c.item_index == i
        cue = c.image[cy0:cy1, cx0:cx1].reshape(-1, 3)
        assert np.ptp(cue, axis=0).max() == 0  # one flat colour
        cue_colours.add(_palette_index(cue[0]))
        x0, y0, x1, y1 = c.box
        assert max(x1 - x0, y1 - y0) <= ITEM_SIDE[1]
        ys, xs = np.nonzero(c.mask > 0.1)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == c.box
        assert _keeps_clear(style, x0, y0, x1, y1)  # the item is clear of the cue's keep-out rectangle
        strong = c.mask > 0.99
        if strong.any():  # the named item is painted in the cue's colour, on top
            np.testing.assert_allclose(c.image[strong], np.broadcast_to(cue[0], c.image[strong].shape), atol=0.02)
    assert len(cue_colours) == len(PALETTE)  # every palette colour serves as the cue


@pytest.mark.parametrize("style", sorted(CUE_STYLES))
def test_layouts_follow_the_specification(test_split, style):
    _, labels = test_split
    for i in range(500):
        layout = cued_layout(np.random.default_rng([0, 11, i]), labels, i, style)
        assert layout.items[-1] == i and len(layout.items) == 3
        assert len({int(labels[k]) for k in layout.items}) == 3  # three different classes
        assert len({_palette_index(c) for c in layout.colours}) == 3  # three different tints
        squares = [(x, y, s) for (x, y), s in zip(layout.positions, layout.sides)]
        for k, (x, y, s) in enumerate(squares):
            assert ITEM_SIDE[0] <= s <= ITEM_SIDE[1]
            assert 0 <= x and x + s <= 96 and 0 <= y and y + s <= 96
            assert _keeps_clear(style, x, y, x + s, y + s)
            for bx, by, bs in squares[k + 1:]:
                assert not (x < bx + bs and bx < x + s and y < by + bs and by < y + s)
        assert 4 <= len(layout.fragments) <= 6
        for other, side, *_, colour in layout.fragments:
            assert other not in layout.items and 9 <= side <= 12
            assert 0.3 <= colour.min() and colour.max() <= 0.7


@pytest.mark.parametrize("style", sorted(CUE_STYLES))
def test_fallback_slots_are_valid_for_every_side(style):
    side = ITEM_SIDE[1]
    squares = list(CUE_STYLES[style].fallback)
    assert len(squares) == 3
    for k, (x, y) in enumerate(squares):
        assert x + side <= 96 and y + side <= 96 and _keeps_clear(style, x, y, x + side, y + side)
        for bx, by in squares[k + 1:]:
            assert not (x < bx + side and bx < x + side and y < by + side and by < y + side)


def test_the_strip_task_paints_the_strip_and_keeps_the_corner_task_unchanged(test_split):
    images, labels = test_split
    strip = CANVAS_TASKS["cued-strip-fashion-mnist"](images, labels, "test", 3, 0)
    assert np.ptp(strip.image[:, :12].reshape(-1, 3), axis=0).max() == 0  # the whole strip, one colour
    corner = CANVAS_TASKS["cued-fashion-mnist"](images, labels, "test", 3, 0)
    assert corner.label == strip.label
    np.testing.assert_array_equal(corner.image, render_cued_canvas(images, labels, "test", 3, 0).image)
    with pytest.raises(ValueError, match="cue style"):
        render_cued_canvas(images, labels, "test", 3, style="ring")


def test_cued_task_needs_three_classes():
    images = np.zeros((4, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="at least 3 classes"):
        render_cued_canvas(images, np.array([0, 0, 1, 1]), "test", 0)


def test_task_registry_and_batches():
    assert set(CANVAS_TASKS) == {"cluttered-fashion-mnist", "cued-fashion-mnist", "cued-strip-fashion-mnist"}
    with pytest.raises(ValueError, match="unknown canvas task"):
        check_task("mnist")
    with pytest.raises(ValueError, match="unknown canvas task"):
        ClutteredFashionMNIST("test", 4, task="mnist")
    cued, y, _ = make_batch("test", [0, 1, 2], task="cued-fashion-mnist")
    plain, y_plain, _ = make_batch("test", [0, 1, 2])
    assert cued.shape == plain.shape == (3, 3, 96, 96)
    torch.testing.assert_close(y, y_plain)  # the same items are named, on different canvases
    assert not torch.equal(cued, plain)
    ds = ClutteredFashionMNIST("train", 2, task="cued-fashion-mnist")
    assert ds.task == "cued-fashion-mnist" and ds[1][0].shape == (3, 96, 96)



@pytest.mark.slow
def test_a_cued_checkpoint_records_its_task_and_is_evaluated_on_it(tmp_path):
    from programs.evaluate import cli as evaluate
    from programs.train import get_args_parser, main
    from tests.test_train import TINY

    main(get_args_parser().parse_args(["--out", str(tmp_path / "cued"), "--set", "train.epochs=1",
                                       "--set", "train.task=cued-fashion-mnist", *TINY]))
    path = tmp_path / "cued" / "model.safetensors"
    from model.checkpoint import read_metadata
    assert read_metadata(path)["task"] == "cued-fashion-mnist"
    result = evaluate.main(evaluate.get_args_parser().parse_args(
        ["floors", "--checkpoint", str(path), "--n", "4", "--batch-size", "4"]))
    assert result["task"] == "cued-fashion-mnist" and result["n"] == 4
    with pytest.raises(SystemExit, match="different tasks"):
        evaluate.main(evaluate.get_args_parser().parse_args(
            ["grid", "--checkpoints", str(path), "assets/s3ta_default.safetensors", "--n", "2",
             "--glances", "1", "--steps", "0", "--eps", "8", "--targets", "random", "--out", str(tmp_path / "g")]))
    with pytest.raises(SystemExit, match="not a canvas task"):
        evaluate.main(evaluate.get_args_parser().parse_args(
            ["floors", "--checkpoint", "assets/photo_attention.safetensors", "--n", "2"]))


def test_each_shipped_gallery_holds_its_tasks_first_test_canvas_of_each_class():
    from compute.images import gallery_folder, task_gallery
    shipped = [t for t in CANVAS_TASKS if (gallery_folder(t) / "samples.json").is_file()]
    assert sorted(shipped) == ["cluttered-fashion-mnist", "cued-fashion-mnist"]
    _, labels = load_fashion_mnist("test")
    for task in shipped:
        shown, samples = task_gallery(task)
        canvases = ClutteredFashionMNIST("test", seed=0, task=task)
        assert shown == task and [s.label for s in samples] == list(range(10))
        for s in samples:
            index = int(s.name[len("test_"):-len(".png")])
            assert index == int(np.flatnonzero(labels == s.label)[0])  # the first of its class
            image, label, box = canvases[index]
            assert label == s.label and tuple(box.tolist()) == s.box
            np.testing.assert_allclose(s.image, image.permute(1, 2, 0).numpy(), atol=0.5 / 255 + 1e-6)
    assert task_gallery("cued-strip-fashion-mnist")[0] == "cluttered-fashion-mnist"  # none shipped: the default's
