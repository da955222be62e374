"""How fast the app answers, on this machine's CPU with the shipped default model.

Two views, both measured in one run:
- server time: the page script run by streamlit's AppTest (an upper bound: AppTest adds its own
  bookkeeping), for a sample pick with nothing cached, a PGD-20 attack click (attack, trace,
  rerun), a display-only move (heads), and the GIF export (frames + encoding) on its own;
- in a real browser (Chromium + Playwright against `streamlit run app.py`): from picking a sample
  to the new animation drawn, and from pressing Run attack to the adversarial panel drawn;
- PGD-100 on one image (no early stop), Run attack -> panel drawn, with the app on the eager
  model (``S3TA_INFERENCE_FORM=0``, before) and on the inference form (after), server and browser.

    python bench/app_speed.py --repeats 5 --md bench/app_speed.md
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import emit  # noqa: E402


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def server_times(repeats: int) -> dict[str, list[float]]:
    from streamlit.testing.v1 import AppTest

    from model import AttackConfig, load_model
    from model.inference import predict
    from viz.files import to_gif
    from viz.frames import Display, export_frames
    from viz.images import load_samples
    from viz.runs import run_attack

    out: dict[str, list[float]] = {k: [] for k in ("pick", "attack", "display", "gif")}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    options = at.sidebar.selectbox(key="sample").options
    heads = ["0", "1", "2", "3", "mean"]
    for r in range(repeats):
        # a glance count not used before, so the clean prediction is not cached
        at.sidebar.slider(key="glances").set_value(4 + r).run()
        out["pick"].append(timed(lambda: at.sidebar.selectbox(key="sample").set_value(options[r + 1]).run()))
        out["attack"].append(timed(lambda: at.sidebar.button(key="run_attack").click().run()))
        assert not at.exception, at.exception
        out["display"].append(timed(lambda: at.sidebar.radio(key="head").set_value(heads[r % 5]).run()))
    model, sample = load_model(), load_samples()[0]
    clean = predict(model, sample.image, 16)
    run = run_attack(model, sample.image, sample.label, 16, AttackConfig(eps=16 / 255, steps=20))
    names = model.metadata["class_names"]
    for _ in range(repeats):
        out["gif"].append(timed(lambda: to_gif(export_frames(sample.image, clean, run, names, sample.box,
                                                             Display()))))
    return out


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

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "S3TA_INFERENCE_FORM": "1" if inference_form else "0"})
    url = f"http://127.0.0.1:{port}"
    from viz.images import load_samples

    options = [f"{s.class_name} ({s.name})" for s in load_samples()]
    out: dict[str, list[float]] = {"pick (browser)": [], "attack (browser)": []}
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                f"/tmp/s3ta-bench-{os.getpid()}", executable_path="/usr/bin/chromium", headless=True,
                viewport={"width": 1400, "height": 1000},
                args=["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync",
                      "--no-first-run"])
            page = ctx.new_page()
            page.goto(url)
            page.wait_for_selector(".js-plotly-plot .layer-above image, .js-plotly-plot image", timeout=60_000)
            first_image = ("() => { const i = document.querySelector('.js-plotly-plot image');"
                           " return i ? i.getAttribute('href') : null; }")
            idle = "[data-testid=stApp][data-test-script-state=notRunning]"
            if steps is not None:
                slider = page.locator('input[type=range][aria-label="Steps"]')
                slider.focus()
                for _ in range(steps - 20):  # from the default 20, one step per key
                    slider.press("ArrowRight")
                page.wait_for_selector(idle)
                page.get_by_text("Stop once it succeeds").click()
                page.wait_for_selector(idle)
                page.wait_for_function(f"() => document.querySelector('[data-testid=stSidebar]')"
                                       f".innerText.includes('{steps}')", timeout=30_000)
            for r in range(repeats):
                before = page.evaluate(first_image)
                box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").nth(1)
                box.click()
                page.keyboard.type(options[r + 1])
                t = time.perf_counter()
                page.keyboard.press("Enter")
                page.wait_for_function(f"() => ({first_image})() && ({first_image})() !== {before!r}",
                                       timeout=30_000)
                out["pick (browser)"].append(time.perf_counter() - t)
                page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")
                n_images = "() => document.querySelectorAll('.js-plotly-plot')[0].querySelectorAll('image').length"
                t = time.perf_counter()
                page.get_by_role("button", name="Run attack").click()
                page.wait_for_function(f"() => ({n_images})() >= 2", timeout=30_000)
                out["attack (browser)"].append(time.perf_counter() - t)
                page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")
            ctx.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--md", default=None)
    args = ap.parse_args()
    times = server_times(args.repeats)
    if not args.no_browser:
        times.update(browser_times(args.repeats))
    names = {"pick": "sample picked -> page script done (nothing cached)",
             "attack": "Run attack (PGD-20 at the default 32/255, 4 glances) -> page done",
             "display": "display-only move (head) -> page done",
             "gif": "GIF export (16 glances, clean + adversarial frames)",
             "pick (browser)": "sample picked -> new animation drawn in Chromium",
             "attack (browser)": "Run attack -> adversarial panel drawn in Chromium"}
    goal_of = {"pick": 1.0, "pick (browser)": 1.0, "attack": 1.5, "attack (browser)": 1.5,
               "gif": 0.5, "display": 0.15}
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
