"""Cluttered Fashion-MNIST: determinism, the spec's ranges, box correctness, image folders."""

import numpy as np
import pytest
import torch
from PIL import Image

from model.data import (
    CLASS_NAMES,
    ClutteredFashionMNIST,
    DatasetNotFoundError,
    ImageFolder,
    find_fashion_mnist,
    load_fashion_mnist,
    make_batch,
    render_canvas,
)


def test_fashion_mnist_files():
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert sorted(set(labels.tolist())) == list(range(10))
    assert load_fashion_mnist("train")[0].shape == (60000, 28, 28)


def test_missing_data_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr("model.data.fashion_mnist.SEARCH_DIRS", (str(tmp_path),))
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        find_fashion_mnist()


def test_canvas_is_a_pure_function_of_split_index_seed():
    images, labels = load_fashion_mnist("test")
    a = render_canvas(images, labels, "test", 5, seed=3)
    b = render_canvas(images, labels, "test", 5, seed=3)
    c = render_canvas(images, labels, "test", 5, seed=4)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.box == b.box
    assert not np.array_equal(a.image, c.image)
    x1, y1, _ = make_batch("test", [0, 1, 2])
    x2, y2, _ = make_batch("test", [0, 1, 2])
    torch.testing.assert_close(x1, x2, rtol=0, atol=0)


def test_canvases_follow_the_specification():
    images, labels = load_fashion_mnist("test")
    sides, areas = [], []
    for i in range(200):
        c = render_canvas(images, labels, "test", i)
        assert c.image.shape == (96, 96, 3) and c.image.dtype == np.float32
        assert 0.0 <= c.image.min() and c.image.max() <= 1.0
        assert c.label == labels[i]
        x0, y0, x1, y1 = c.box
        assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 96
        assert max(x1 - x0, y1 - y0) <= 44
        # the box is tight around the item's visible pixels
        ys, xs = np.nonzero(c.mask > 0.1)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == c.box
        # the item is drawn on top: inside its mask the canvas shows the item's colour
        strong = c.mask > 0.99
        if strong.any():
            colours = c.image[strong]
            assert np.ptp(colours, axis=0).max() < 0.02  # one tint
            assert colours.max() > 0.99  # bright: one channel at full intensity
        sides.append(max(x1 - x0, y1 - y0))
        areas.append((x1 - x0) * (y1 - y0) / 96 ** 2)
    assert 0.06 < np.mean(areas) < 0.14  # about 10% of the canvas
    assert max(sides) > 38


def test_background_is_dark_and_clutter_present():
    images, labels = load_fashion_mnist("test")
    c = render_canvas(images, labels, "test", 7)
    outside = c.mask == 0
    assert np.median(c.image[outside]) < 0.35
    assert (c.image[outside].max(axis=-1) > 0.4).sum() > 30  # bright fragment pixels off the item


def test_dataset_items_and_split_difference():
    ds = ClutteredFashionMNIST("train", length=4)
    x, y, box = ds[0]
    assert x.shape == (3, 96, 96) and box.shape == (4,)
    assert ds.classes == CLASS_NAMES
    with pytest.raises(IndexError):
        ds[4]
    test_x = ClutteredFashionMNIST("test", length=4)[0][0]
    assert not torch.equal(x, test_x)


def test_image_folder(tmp_path):
    for cls, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.new("RGB", (40 + i, 30), colour).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    ds = ImageFolder(tmp_path, 32)
    assert ds.classes == ["cat", "dog"] and len(ds) == 4
    x, y = ds[3]
    assert x.shape == (3, 32, 32) and y == 1
    assert x[2].mean() > 0.99 and x[0].mean() < 0.01
    with pytest.raises(ValueError, match="no class sub-folders"):
        ImageFolder(tmp_path / "cat", 32)
