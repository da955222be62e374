"""How long the experiment views take in a real browser, from the click on a view's button to
its result drawn: Chromium (Playwright) against ``streamlit run app.py`` on this machine's CPU.

Each view at the page's defaults for it (the shipped default model, the view's own attack budget,
a new seed each repeat so nothing is cached) with early stop off, so every attack runs all its
steps: the race on one image, the glance grid, the batch of the 10 gallery samples and a batch
of 24 uploaded canvases; the adversarial patch at its defaults (its early stop is its own: a patch
that reaches its target stops moving); then a race stopped 1.5 s after its click, to its lines
so far drawn.

    python -m bench.view_speed --repeats 3 --md bench/view_speed.md
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.browser import IDLE, launch, serve
from bench.report import emit

STOP_AFTER = 1.5  # seconds into the race when Stop is pressed
PLOTS = "() => [...document.querySelectorAll('.js-plotly-plot')].filter(d => d._fullData && d._fullData.length)"
RACE_DRAWN = (f"() => ({PLOTS})().some(d => String(d._fullLayout.title && d._fullLayout.title.text)"
              ".includes('race on this image'))")
GRID_DRAWN = f"() => ({PLOTS})().some(d => d._fullData.some(t => t.type === 'heatmap'))"
OTHERS = ("() => [...document.querySelectorAll('button')].some(b => b.innerText.startsWith('Attack the other')"
          " || b.innerText.startsWith('Attack all'))")
PATCH_DRAWN = (f"() => ({PLOTS})().some(d => String(d._fullLayout.title && d._fullLayout.title.text)"
               ".includes('on the patch and on the item'))")
TABLE_DRAWN = ("() => [...document.querySelectorAll('[data-testid=stMetric]')]"
               ".some(m => m.innerText.includes('reached their goal'))")


def canvases(folder: Path, n: int) -> list[str]:
    """``n`` test canvases of the default task written as PNG files, as a user would upload them."""
    from PIL import Image

    from model.data import make_batch

    images = make_batch("test", range(3000, 3000 + n))[0].permute(0, 2, 3, 1).numpy()
    paths = []
    for i, image in enumerate(images):
        path = folder / f"canvas_{i:02d}.png"
        Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


def click_to(page, button: str, drawn: str, timeout: float = 120_000) -> float:
    page.get_by_role("button", name=button).first.wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    t = time.perf_counter()
    page.get_by_role("button", name=button).first.click()
    page.wait_for_function(drawn, timeout=timeout)
    return time.perf_counter() - t


def upload(page, files: list[str]) -> None:
    page.get_by_text("Uploaded images").click()
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_test_id("stFileUploader").first.locator("input[type='file']").set_input_files(files)
    page.get_by_role("button", name=f"Attack all {len(files)} images").wait_for(timeout=120_000)


def measure(repeats: int) -> tuple[dict[str, list[float]], list[str]]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {k: [] for k in ("race", "grid", "batch10", "batch24", "patch", "stop")}
    folder = Path(tempfile.mkdtemp(prefix="s3ta-uploads-"))
    files = canvases(folder, 24)
    kept: list[str] = []
    with serve() as url, sync_playwright() as p:
        ctx = launch(p)
        page = ctx.new_page()
        for r in range(repeats):
            base = f"{url}/?seed={1000 + 10 * r}&early_stop=false"
            page.goto(f"{base}&tab=Race")
            out["race"].append(click_to(page, "Run the race on this image", RACE_DRAWN))
            page.goto(f"{url}/?seed={1001 + 10 * r}&early_stop=false&tab=Glance%20grid")
            out["grid"].append(click_to(page, "Run the glance grid", GRID_DRAWN))
            page.goto(f"{url}/?seed={1002 + 10 * r}&early_stop=false&tab=Batch")
            out["batch10"].append(click_to(page, "Attack all 10 images", TABLE_DRAWN))
            page.goto(f"{url}/?seed={1003 + 10 * r}&early_stop=false&tab=Batch")
            upload(page, files)
            out["batch24"].append(click_to(page, "Attack all 24 images", TABLE_DRAWN))
            page.goto(f"{url}/?seed={1005 + 10 * r}&tab=Adversarial%20patch")
            out["patch"].append(click_to(page, "Run the patch", PATCH_DRAWN))
            page.goto(f"{url}/?seed={1004 + 10 * r}&tab=Race")
            page.get_by_role("button", name="Run the race on this image").first.wait_for(timeout=60_000)
            page.wait_for_selector(IDLE, timeout=60_000)
            page.get_by_role("button", name="Run the race on this image").first.click()
            time.sleep(STOP_AFTER)
            t = time.perf_counter()
            try:
                page.get_by_role("button", name="Stop, keeping what is done").click(timeout=1_000)
            except PlaywrightTimeout:  # the race finished before the stop
                kept.append("finished before the stop")
                page.wait_for_selector(IDLE, timeout=60_000)
                continue
            page.wait_for_function(RACE_DRAWN, timeout=60_000)
            out["stop"].append(time.perf_counter() - t)
            page.wait_for_selector(IDLE, timeout=60_000)
            kept.append(page.evaluate("() => { const c = [...document.querySelectorAll("
                                      "'[data-testid=stCaptionContainer]')].find(c => c.innerText.startsWith("
                                      "'Stopped after step')); return c ? c.innerText.split(':')[0] : 'none'; }"))
            print({k: [round(x, 2) for x in v] for k, v in out.items()}, "rows kept:", kept, flush=True)
        ctx.close()
    return out, kept


def main() -> None:
    import os

    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--md", default=None)
    args = ap.parse_args()
    times, kept = measure(args.repeats)
    rows = [("race", "Race on this image: 5 PGD-50 attacks (1-16 glances), click -> chart drawn", 4.0),
            ("grid", "Glance grid: 5 PGD-50 attacks, click -> heat map drawn", 5.0),
            ("batch10", "Batch of the 10 gallery samples (PGD-50), click -> table drawn", 5.0),
            ("batch24", "Batch of 24 uploaded canvases (PGD-50), click -> table drawn", 10.0),
            ("patch", "Adversarial patch: 16 px, place searched, 200 steps (early stop on), click -> drawn", 10.0),
            ("stop", f"Stop pressed {STOP_AFTER:g} s into the race -> its lines so far drawn", 2.0)]
    lines = ["| view (the page's defaults, early stop off) | median s | min | max | goal |",
             "|---|---:|---:|---:|---:|"]
    for key, what, goal in rows:
        v = times[key]
        if not v:
            continue
        lines.append(f"| {what} | {statistics.median(v):.2f} | {min(v):.2f} | {max(v):.2f} | <= {goal:g} |")
    lines.append("")
    lines.append(f"Where each stopped race was, as the page says: {'; '.join(kept)}.")
    lines.append(f"{args.repeats} repeats, a new seed each; {os.cpu_count()} CPU cores, torch {torch.__version__}; "
                 f"load average before the run: {os.getloadavg()[0]:.2f}.")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
