"""How fast the app answers, on this machine's CPU with the shipped default model.

Two views, both measured in one run:
- server time: the page script run by streamlit's AppTest (an upper bound: AppTest adds its own
  bookkeeping), for a sample pick with nothing cached, a PGD-20 attack click (attack, trace,
  rerun), a display-only move (heads), and the GIF export (frames + encoding) on its own;
- in a real browser (Chromium + Playwright against `streamlit run app.py`): from picking a sample
  to the new animation drawn, and from pressing Run attack to the adversarial panel drawn;
- the experiment views (a new seed each repeat, nothing cached): the defender's glance count moved
  on an existing attack, the 5x5 glance grid, the gallery batch (server), and compare mode from
  its button to both panels drawn (Chromium);
- PGD-100 on one image (no early stop), Run attack -> panel drawn, with the app on the eager
  model (``S3TA_INFERENCE_FORM=0``, before) and on the inference form (after), server and browser.

    python -m bench.app_speed --repeats 5 --md bench/app_speed.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench.browser import IDLE, launch, serve
from bench.report import emit

ROOT = Path(__file__).resolve().parent.parent


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def server_times(repeats: int) -> dict[str, list[float]]:
    from streamlit.testing.v1 import AppTest

    from compute.images import load_samples
    from compute.runs import run_attack
    from model import AttackConfig, load_model
    from model.inference import predict
    from viz.files import to_gif
    from viz.frames import Display, Shown, export_frames

    out: dict[str, list[float]] = {k: [] for k in ("pick", "attack", "display", "gif")}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    options = at.sidebar.selectbox(key="sample").options
    heads = ["0", "1", "2", "3", "mean"]
    for r in range(repeats):
        # a glance count not used before, so the clean prediction is not cached
        at.sidebar.slider(key="glances").set_value(4 + r).run()
        out["pick"].append(timed(lambda r=r: at.sidebar.selectbox(key="sample").set_value(options[r + 1]).run()))
        out["attack"].append(timed(lambda: at.sidebar.button(key="run_attack").click().run()))
        assert not at.exception, at.exception
        out["display"].append(timed(lambda r=r: at.sidebar.radio(key="head").set_value(heads[r % 5]).run()))
    model, sample = load_model(), load_samples()[0]
    clean = predict(model, sample.image, 16)
    run = run_attack(model, sample.image, sample.label, 16, AttackConfig(eps=16 / 255, steps=20))
    names = model.metadata["class_names"]
    for _ in range(repeats):
        shown = Shown(sample.image, clean, run, names, sample.box)
        out["gif"].append(timed(lambda shown=shown: to_gif(export_frames(shown, Display()))))
    return out


def server_experiment_times(repeats: int) -> dict[str, list[float]]:
    """The experiment views on the server, a new seed each repeat so nothing is cached: moving the
    defender's glances on an existing attack, the 5x5 glance grid, the batch of the gallery."""
    from streamlit.testing.v1 import AppTest

    from ui.views import by_title

    out: dict[str, list[float]] = {k: [] for k in ("defend", "grid", "batch")}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    for r in range(repeats):
        at.sidebar.number_input(key="seed").set_value(100 + r).run()
        at.switch_page(by_title("Probabilities").script)
        at.sidebar.button(key="run_attack").click().run()
        out["defend"].append(timed(lambda r=r: at.sidebar.slider(key="glances").set_value(8 + r).run()))
        at.switch_page(by_title("Glance grid").script).run()
        out["grid"].append(timed(lambda: at.button(key="run_grid").click().run()))
        at.switch_page(by_title("Batch").script).run()
        out["batch"].append(timed(lambda: at.button(key="run_batch").click().run()))
        assert not at.exception, at.exception
        at.sidebar.slider(key="glances").set_value(4).run()
    return out


def browser_compare_times(repeats: int) -> list[float]:
    """Compare tab: pressing "Run the attack on both models" (PGD-20) -> both panels drawn."""
    from playwright.sync_api import sync_playwright

    with serve() as url, sync_playwright() as p:
        ctx = launch(p)
        page = ctx.new_page()
        times = []
        drawn = ("() => [...document.querySelectorAll('.js-plotly-plot')].some(d => d._fullLayout &&"
                 " String(d._fullLayout.title && d._fullLayout.title.text).includes('The same attack')"
                 " && d.querySelectorAll('image').length >= 2)")
        for r in range(repeats):
            page.goto(f"{url}/?seed={200 + r}&tab=Compare%20models")
            page.get_by_role("button", name="Run the attack on both models").wait_for(timeout=60_000)
            page.wait_for_selector(IDLE)
            t = time.perf_counter()
            page.get_by_role("button", name="Run the attack on both models").click()
            page.wait_for_function(drawn, timeout=60_000)
            times.append(time.perf_counter() - t)
            page.wait_for_selector(IDLE)
        ctx.close()
    return times


def server_pgd100(repeats: int, inference_form: bool) -> list[float]:
    """Run attack -> page script done for PGD-100 without early stop, a new sample each time."""
    from streamlit.testing.v1 import AppTest

    os.environ["S3TA_INFERENCE_FORM"] = "1" if inference_form else "0"
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.run()
        at.sidebar.slider(key="steps").set_value(100).run()
        at.sidebar.checkbox(key="early_stop").uncheck().run()
        options = at.sidebar.selectbox(key="sample").options
        times = []
        for r in range(repeats):
            at.sidebar.selectbox(key="sample").set_value(options[r + 1]).run()
            times.append(timed(lambda: at.sidebar.button(key="run_attack").click().run()))
            assert not at.exception, at.exception
        return times
    finally:
        os.environ.pop("S3TA_INFERENCE_FORM", None)


def browser_times(repeats: int, inference_form: bool = True, steps: int | None = None) -> dict[str, list[float]]:
    """Pick -> animation drawn and Run attack -> adversarial panel drawn in Chromium; with
    ``steps`` the attack is PGD-``steps`` without early stop."""
    from playwright.sync_api import sync_playwright

    from compute.images import load_samples

    options = [f"{s.class_name} ({s.name})" for s in load_samples()]
    out: dict[str, list[float]] = {"pick (browser)": [], "attack (browser)": []}
    with serve(inference_form) as url, sync_playwright() as p:
        ctx = launch(p)
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_selector(".js-plotly-plot .layer-above image, .js-plotly-plot image", timeout=60_000)
        first_image = ("() => { const i = document.querySelector('.js-plotly-plot image');"
                       " return i ? i.getAttribute('href') : null; }")
        if steps is not None:
            slider = page.locator('input[type=range][aria-label="Steps"]')
            slider.focus()
            for _ in range(steps - 20):  # from the default 20, one step per key
                slider.press("ArrowRight")
            page.wait_for_selector(IDLE)
            page.get_by_text("Stop once it succeeds").click()
            page.wait_for_selector(IDLE)
            page.wait_for_function(f"() => document.querySelector('[data-testid=stSidebar]')"
                                   f".innerText.includes('{steps}')", timeout=30_000)
        for r in range(repeats):
            before = page.evaluate(first_image)
            box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").nth(1)
            box.click()
            page.keyboard.type(options[r + 1])
            t = time.perf_counter()
            page.keyboard.press("Enter")
            page.wait_for_function(f"() => ({first_image})() && ({first_image})() !== {before!r}", timeout=30_000)
            out["pick (browser)"].append(time.perf_counter() - t)
            page.wait_for_selector(IDLE)
            n_images = "() => document.querySelectorAll('.js-plotly-plot')[0].querySelectorAll('image').length"
            t = time.perf_counter()
            page.get_by_role("button", name="Run attack").click()
            page.wait_for_function(f"() => ({n_images})() >= 2", timeout=30_000)
            out["attack (browser)"].append(time.perf_counter() - t)
            page.wait_for_selector(IDLE)
        ctx.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--md", default=None)
    args = ap.parse_args()
    times = server_times(args.repeats)
    times.update(server_experiment_times(args.repeats))
    if not args.no_browser:
        times.update(browser_times(args.repeats))
        times["compare (browser)"] = browser_compare_times(args.repeats)
    names = {"pick": "sample picked -> page script done (nothing cached)",
             "attack": "Run attack (PGD-20 at the default 32/255, 4 glances) -> page done",
             "display": "display-only move (head) -> page done",
             "gif": "GIF export (16 glances, clean + adversarial frames)",
             "pick (browser)": "sample picked -> new animation drawn in Chromium",
             "attack (browser)": "Run attack -> adversarial panel drawn in Chromium",
             "defend": "defender's glances moved on an existing attack -> page done (no attack rerun)",
             "grid": "5x5 glance grid for one image (5 PGD-20 attacks) -> page done",
             "batch": "batch of the 10 gallery samples at PGD-20 -> page done",
             "compare (browser)": "compare mode (PGD-20 on both models) -> both panels drawn in Chromium"}
    goal_of = {"pick": 1.0, "pick (browser)": 1.0, "attack": 1.5, "attack (browser)": 1.5,
               "gif": 0.5, "display": 0.15, "defend": 0.3, "grid": 15, "batch": 10, "compare (browser)": 2.5}
    lines = ["| measurement | median s | min | max | goal |", "|---|---:|---:|---:|---:|"]
    for key, values in times.items():
        lines.append(f"| {names[key]} | {statistics.median(values):.3f} | {min(values):.3f} | "
                     f"{max(values):.3f} | < {goal_of[key]} |")
    lines.append(f"\n{args.repeats} repeats; torch threads {__import__('torch').get_num_threads()}; "
                 f"{os.cpu_count()} CPU cores.")
    lines += ["", "PGD-100 on one image (32/255, random target, no early stop, 4 glances), Run attack -> ... "
              "(median s, min-max), the app on the eager model (before) and on the inference form (after):", "",
              "| app runs | page script done (AppTest) | adversarial panel drawn (Chromium) |", "|---|---:|---:|"]
    medians = {}
    for label, form in (("eager model (before)", False), ("inference form (after)", True)):
        server = server_pgd100(args.repeats, form)
        cells = [f"{statistics.median(server):.3f} ({min(server):.3f}-{max(server):.3f})"]
        medians[form] = [statistics.median(server)]
        if not args.no_browser:
            browser = browser_times(args.repeats, form, steps=100)["attack (browser)"]
            cells.append(f"{statistics.median(browser):.3f} ({min(browser):.3f}-{max(browser):.3f})")
            medians[form].append(statistics.median(browser))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| after / before | " + " | ".join(f"{a / b:.2f}" for a, b in zip(medians[True], medians[False]))
                 + " |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
