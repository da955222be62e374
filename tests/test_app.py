"""The app page, driven headless with streamlit's AppTest."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def glance_captions(at: AppTest) -> list[str]:
    return [c for img in at.get("image") for c in img.captions if c.startswith("glance")]


@pytest.fixture
def app():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_shows_a_prediction_and_one_frame_per_glance(app):
    assert app.title[0].value == "S3TA Lab"
    assert any(h.value.startswith("Prediction: ") for h in app.subheader)
    glances = app.sidebar.slider[0].value
    assert len(glance_captions(app)) == glances


def test_glance_slider_and_sample_change_rerun_the_model(app):
    app.sidebar.slider[0].set_value(9).run()
    assert not app.exception
    captions = glance_captions(app)
    assert sorted(int(c.split(":")[0].split()[1]) for c in captions) == list(range(1, 10))
    options = app.sidebar.selectbox[0].options
    app.sidebar.selectbox[0].set_value(options[3]).run()
    assert not app.exception
    assert app.get("image")[0].captions[0] == "true class: " + options[3].split(" (")[0]
