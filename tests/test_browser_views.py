"""The Strength sweep in a real browser: each model's lines appear as soon as it is swept, and Stop
pressed during the second model keeps the first one drawn and offers to run only the rest."""

from __future__ import annotations

import re

from .test_browser import page as browser  # noqa: F401
from .test_browser import pytestmark, server, wait_idle  # noqa: F401  (the marks and the fixtures)

CHART = "The attack at each budget"


def traces_drawn(names: list[str], chart: str) -> str:
    """JavaScript: the plotly chart titled ``chart`` has drawn a line for each of ``names``."""
    wanted = ", ".join(f"'{n}'" for n in names)
    return ("() => [...document.querySelectorAll('.js-plotly-plot')].some(d => d._fullLayout && d._fullData"
            f" && String(d._fullLayout.title && d._fullLayout.title.text).includes('{chart}')"
            f" && [{wanted}].every(n => d._fullData.some(t => t.name === n))"
            " && d.querySelectorAll('.scatterlayer .trace').length > 0)")


def test_stop_keeps_the_model_already_swept(server, browser):  # noqa: F811
    # PGD-120: the second model's sweep lasts long enough to be stopped
    browser.goto(f"{server}/?steps=120&seed=7&tab=Strength%20sweep")
    run = browser.get_by_role("button", name=re.compile(r"^Run the sweep on s3ta_default and baseline_default"))
    run.wait_for(timeout=120_000)
    wait_idle(browser)
    run.click()
    browser.wait_for_function(traces_drawn(["s3ta_default"], CHART), timeout=120_000)
    main = browser.get_by_test_id("stMainBlockContainer")
    main.get_by_role("button", name="Stop, keeping what is done").click()
    wait_idle(browser)
    assert browser.evaluate(traces_drawn(["s3ta_default"], CHART))
    assert not browser.evaluate(traces_drawn(["baseline_default"], CHART))
    assert main.get_by_text("baseline_default not swept yet").is_visible()
    rest = main.get_by_role("button", name=re.compile(r"^Run the sweep on baseline_default \("))
    rest.click()  # runs the rest only
    browser.wait_for_function(traces_drawn(["s3ta_default", "baseline_default"], CHART), timeout=120_000)
