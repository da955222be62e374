"""The black-box view in the page, driven with AppTest: Square Attack on a gallery sample equal to
the library's, its PNG and CSV, its settings in the link, values it refuses with the rest of the
page working, the baseline (no attention), an upload, the photo model, and a stopped run kept."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from compute.black_box import run_square
from compute.images import load_samples
from model.square import SquareConfig

from .conftest import figure, linked_page, open_tab
from .conftest import run_attack as click_attack

TAB = "Black-box attack"


def page(**params: str) -> AppTest:
    return linked_page(120, **params)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_the_view_runs_square_as_the_library_does_with_png_and_csv(form, downloads):
    at = page(tab=TAB, bb_queries="30", bb_eps="16")
    assert at.number_input(key="bb_queries").value == 30 and at.number_input(key="bb_eps").value == 16
    at.button(key="run_square").click().run()
    assert not at.exception, at.exception
    sample = load_samples()[0]
    direct = run_square(form, sample.image, sample.label, 4, SquareConfig(eps=16 / 255, queries=30, target="random"))
    assert metric(at, "Queries used") == f"{direct.queries} of 30"
    assert metric(at, "Outcome") == ("reached" if direct.success else "missed")
    drift = figure(at, "square_drift_chart")
    assert len(drift["frames"]) == len(direct.drift.labels) and "Square queries" in str(drift["layout"])
    assert figure(at, "square_curve_chart")["layout"]["xaxis"]["type"] == "log"
    png = np.asarray(Image.open(io.BytesIO(downloads["square_png"])))
    assert png.shape[1] > 3 * 96 * 3  # clean, adversarial, perturbation at the display's zoom
    rows = list(csv.reader(io.StringIO(downloads["square_csv"].decode())))
    assert rows[-1][1] == form.class_names[direct.prediction.label]
    params = dict(at.query_params)
    assert (params["bb_queries"], params["bb_eps"], params["bb_norm"], params["tab"]) == ("30", "16", "linf", TAB)
    at.run()  # cached: the result is shown again without a button press
    assert metric(at, "Queries used") == f"{direct.queries} of 30"


def test_bad_values_get_a_message_and_the_rest_of_the_page_works():
    at = page(tab=TAB, seed="31")  # a seed no other test attacks with: the Run button is live
    at.number_input(key="bb_queries").set_value(20000).run()
    assert any("from 1 to 10,000" in e.value for e in at.error)
    assert not any(b.key == "run_square" for b in at.button)
    if not at.sidebar.button(key="run_attack").disabled:  # greyed out when an earlier test cached it
        click_attack(at)  # the sidebar's attack still runs
    assert any(m.value.startswith("**Adversarial: ") for m in at.markdown)
    at.number_input(key="bb_queries").set_value(50)
    at.number_input(key="bb_eps").set_value(0.0).run()
    assert any("Epsilon must be above 0 and at most 32/255" in e.value for e in at.error)
    at.radio(key="bb_norm").set_value("l2").run()
    at.number_input(key="bb_eps_l2").set_value(50.0).run()
    assert any("at most 10 (L2)" in e.value for e in at.error)
    at.number_input(key="bb_eps_l2").set_value(1.0).run()
    assert not at.error and any(b.key == "run_square" for b in at.button)
    assert dict(at.query_params)["bb_eps_l2"] == "1"
    linked = page(tab=TAB, bb_queries="20000", bb_norm="l3")
    warnings = " ".join(w.value for w in linked.warning)
    assert "'bb_queries=20000' in the link is not a whole number from 1 to 10000" in warnings
    assert "'bb_norm=l3'" in warnings
    assert linked.number_input(key="bb_queries").value == 1000 and not linked.error


def test_a_run_that_cannot_start_says_why_and_the_page_goes_on(form):
    sample = load_samples()[0]
    at = page(tab=TAB, bb_queries="10", target="class", target_class=form.class_names[sample.label])
    at.button(key="run_square").click().run()
    assert not at.exception, at.exception
    assert any("is the class being attacked; choose another one" in e.value for e in at.error)
    assert not any(m.label == "Queries used" for m in at.metric)


def test_the_baseline_says_attention_does_not_apply_and_is_attacked():
    at = page(model="baseline_default", tab=TAB, bb_queries="20")
    at.button(key="run_square").click().run()
    assert not at.exception, at.exception
    assert any("has no attention" in i.value and "does not apply" in i.value for i in at.info)
    assert metric(at, "Queries used").endswith("of 20")
    assert "The image over the queries" in str(figure(at, "square_drift_chart")["layout"])


@pytest.mark.slow
def test_an_upload_without_a_label_is_attacked_away_from_its_prediction():
    at = page(tab=TAB, bb_queries="15")
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((60, 120, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    at.sidebar.radio(key="source").set_value("Upload").run()
    at.sidebar.file_uploader(key="image_upload").set_value(("noise.png", buf.getvalue(), "image/png")).run()
    at.button(key="run_square").click().run()
    assert not at.exception, at.exception
    assert metric(at, "Queries used").endswith("of 15")
    assert "bb_queries" in dict(at.query_params) and "sample" not in dict(at.query_params)


def test_a_stopped_run_is_kept_and_said_so(monkeypatch):
    """Stop (any control pressed while it runs) interrupts the progress update: the best iterate
    so far is shown, marked as stopped, and running it again spends the whole budget."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    import ui.widgets

    real = ui.widgets.progress_bar
    calls = [0]

    def interrupting(text, interval=0.1):
        bar, update = real(text, interval)

        def stop_at_the_fifth(fraction):
            calls[0] += 1
            if calls[0] == 5:
                raise StopException  # what Streamlit raises there when the page is stopped
            update(fraction)
        return bar, stop_at_the_fifth

    at = page(tab=TAB, bb_queries="400", bb_eps="1")
    assert any(b.key == "run_square" for b in at.button)
    monkeypatch.setattr(ui.widgets, "progress_bar", interrupting)
    at.button(key="run_square").click().run()  # the script ends in the interruption, as a rerun would
    monkeypatch.setattr(ui.widgets, "progress_bar", real)
    at.run()
    assert not at.exception, at.exception
    assert metric(at, "Queries used") == "5 of 400"
    assert any("Stopped after 5 of 400 queries" in w.value for w in at.warning)
    again = [b for b in at.button if b.key == "run_square"]
    assert again and again[0].label.startswith("Run Square Attack again from the start")  # to its end


@pytest.mark.slow
def test_the_photo_model_runs_the_view():
    from .test_app_photos import SHIPPED, upload_cat
    at = page(tab=TAB, bb_queries="10")
    upload_cat(at)
    at.button(key=f"fit_{SHIPPED}").click().run()
    open_tab(at, TAB)
    assert any("224 px" in c.value for c in at.caption)
    at.button(key="run_square").click().run()
    assert not at.exception, at.exception
    assert metric(at, "Queries used").endswith("of 10") and not at.error
