"""The app with the natural-photo model: a photo far from the task's canvases gets the photo
model offered, opens it with one click, reads ImageNet classes and runs an attack on it."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from streamlit.testing.v1 import AppTest

from model import build_model
from model.checkpoint import save_checkpoint
from model.data.stats import input_stats
from model.imagenet_names import imagenet_class_names
from model.photo_attention import photo_config
from programs.distill.cli import DESCRIPTION

from .conftest import APP, ROOT, run_attack
from .test_efficientnet_lite import CATS, photo

SHIPPED = "photo_attention · shipped"


@pytest.fixture(scope="module")
def photo_models(tmp_path_factory):
    """A models folder holding a second photo head (queries nudged off uniform) with the metadata
    the distillation writes."""
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    model = build_model(photo_config(glances=2))
    with torch.no_grad():
        for p in model.query.parameters():
            p.normal_(0, 0.02)
    views = np.stack([photo(n, 96)[0].permute(1, 2, 0).numpy() for n in ("coffee", "rocket", "astronaut")])
    save_checkpoint(model, folder / "photo_other.safetensors",
                    {"class_names": imagenet_class_names(), "task": "natural-photos", "description": DESCRIPTION,
                     "input_stats": input_stats(views)})
    return folder


@pytest.fixture
def page():
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    return at


def upload_cat(at: AppTest) -> AppTest:
    at.sidebar.radio(key="source").set_value("Upload").run()
    buf = io.BytesIO()
    Image.fromarray(data.chelsea()).save(buf, format="PNG")
    at.sidebar.file_uploader(key="image_upload").set_value(("cat.png", buf.getvalue(), "image/png")).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_a_photo_on_the_task_model_offers_the_photo_model_which_reads_a_cat(page):
    upload_cat(page)  # letterboxed by default: the check looks at the photo's own pixels
    assert any("far from the training data" in w.value for w in page.warning)
    assert any("photo_attention" in i.value and "not the paper's model" in i.value for i in page.info)
    page.button(key=f"fit_{SHIPPED}").click().run()
    assert not page.exception, page.exception
    assert page.sidebar.selectbox(key="model_choice").value == SHIPPED
    assert not any("far from the training data" in w.value for w in page.warning)
    assert any(c.value.startswith("crop") for c in page.caption), [c.value for c in page.caption]  # its fit
    names = imagenet_class_names()
    clean = next(m.value for m in page.markdown if m.value.startswith("**Clean:"))
    assert any(names[c] in clean for c in CATS), clean


@pytest.mark.slow
def test_an_attack_on_the_photo_model_runs_to_an_outcome(page):
    upload_cat(page)
    page.button(key=f"fit_{SHIPPED}").click().run()
    page.sidebar.slider(key="steps").set_value(3).run()
    run_attack(page)
    assert any(m.value.startswith("**Adversarial:") for m in page.markdown), [m.value for m in page.markdown][:6]


def test_better_fits_names_the_photo_model_for_a_photo_and_the_task_models_for_a_canvas(photo_models):
    from compute.catalog import better_fits, list_checkpoints
    from compute.images import load_samples
    from model.checkpoint import DEFAULT_CHECKPOINT
    entries, problems = list_checkpoints([DEFAULT_CHECKPOINT.parent, photo_models])
    assert not problems
    cat = photo("chelsea", 96)[0].permute(1, 2, 0).numpy()
    assert [e.path.stem for e in better_fits(cat, entries, "s3ta_default")] == ["photo_attention", "photo_other"]
    assert [e.path.stem for e in better_fits(cat, entries, "photo_attention")] == ["photo_other"]  # never the open one
    canvas = load_samples()[0].image
    assert {"baseline_default", "s3ta_clean"} <= {e.path.stem for e in better_fits(canvas, entries, "photo_attention")}


@pytest.mark.slow
def test_every_light_view_of_an_attack_on_the_photo_model_draws(page):
    """After an attack on a photo: the readouts, the comparison (refused with a message against
    a model of other classes), attributions, exports and the model card all draw."""
    from .conftest import open_tab
    upload_cat(page)
    page.button(key=f"fit_{SHIPPED}").click().run()
    page.sidebar.slider(key="steps").set_value(2).run()
    run_attack(page)
    for tab in ("Probabilities", "Attention pull", "Perturbation", "Attack drift", "Attributions", "Export", "Model"):
        open_tab(page, tab)
        assert not page.error, (tab, [e.value for e in page.error])
    open_tab(page, "Compare models")  # the default partner is the task baseline: other classes
    assert not page.error and any("No other listed model knows" in i.value for i in page.info)


@pytest.mark.slow
def test_the_photo_model_has_its_own_gallery_of_licensed_photos(page):
    page.sidebar.selectbox(key="model_choice").set_value(SHIPPED).run()
    assert not page.exception, page.exception
    options = page.sidebar.selectbox(key="sample").options
    assert "a cat (chelsea.png)" in options and len(options) == 5
    assert not any("gallery holds" in w.value for w in page.warning)  # no dead end: a photo is shown
    assert page.get("plotly_chart")
    assert any("No known label" in c.value for c in page.caption)  # photos carry no ImageNet label
    index = json.loads((ROOT / "assets" / "samples" / "natural-photos" / "samples.json").read_text())
    assert all(s["licence"] and s["source"].startswith("scikit-image") for s in index["samples"])
