"""The black-box view in Chromium: from pressing "Run Square Attack" to the drift over queries drawn,
at the view's defaults (1,000 queries; the sidebar's 32/255 towards a random wrong class, 4
glances), a new sample and seed each repeat so nothing is cached; and Stop: from pressing it to
the kept best iterate drawn.

    python -m bench.square_view --repeats 5 --md bench/square_view.md

Goal: the first result on one image <= 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

from bench.browser import IDLE, launch, serve
from bench.report import emit

DRAWN = ("() => [...document.querySelectorAll('.js-plotly-plot')].some(d => d._fullLayout && "
         "String(d._fullLayout.title && d._fullLayout.title.text).includes('over the queries') && "
         "d.querySelectorAll('image').length >= 1)")


def used(page) -> str:
    """The 'Queries used' metric as shown."""
    text = page.get_by_test_id("stMetric").filter(has_text="Queries used").inner_text()
    return re.sub(r"\s+", " ", text.replace("Queries used", "")).strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--md", default=None)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from compute.images import load_samples

    samples = load_samples()
    runs, stops = [], []
    load_before = os.getloadavg()[0]
    with serve() as url, sync_playwright() as p:
        ctx = launch(p)
        page = ctx.new_page()
        for r in range(args.repeats):
            sample = samples[r % len(samples)].name
            page.goto(f"{url}/?tab=Black-box%20attack&sample={sample}&seed={300 + r}")
            button = page.get_by_role("button", name="Run Square Attack (1,000 queries)")
            button.wait_for(timeout=60_000)
            page.wait_for_selector(IDLE)
            t = time.perf_counter()
            button.click()
            page.wait_for_function(DRAWN, timeout=120_000)
            runs.append((sample, time.perf_counter() - t, used(page)))
            page.wait_for_selector(IDLE)
            print(runs[-1], flush=True)
        for r in range(min(args.repeats, 3)):  # Stop: a budget that cannot succeed, stopped after about 2 s
            page.goto(f"{url}/?tab=Black-box%20attack&bb_eps=1&bb_queries=10000&seed={400 + r}")
            button = page.get_by_role("button", name="Run Square Attack (10,000 queries)")
            button.wait_for(timeout=60_000)
            page.wait_for_selector(IDLE)
            button.click()
            page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").wait_for(timeout=30_000)
            page.wait_for_timeout(2000)
            t = time.perf_counter()
            page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
            page.get_by_text("Stopped after").wait_for(timeout=60_000)
            page.wait_for_function(DRAWN, timeout=60_000)
            stops.append((time.perf_counter() - t, used(page)))
            page.wait_for_selector(IDLE)
            print(stops[-1], flush=True)
        ctx.close()
    first = [s for _, s, _ in runs]
    lines = [f"{os.cpu_count()} CPU cores, shared (1-minute load average {load_before:.1f} before, "
             f"{os.getloadavg()[0]:.1f} after); the app on the inference form (its default); a new sample and seed "
             "each repeat.", "", "| sample | Run Square Attack -> drift drawn (s) | queries used |", "|---|---:|---|"]
    lines += [f"| {name} | {s:.2f} | {q} |" for name, s, q in runs]
    lines += ["", f"Median {statistics.median(first):.2f} s, max {max(first):.2f} s (goal: <= 10 s).", "",
              "| Stop pressed after about 2 s -> kept best iterate drawn (s) | queries used |", "|---:|---|"]
    lines += [f"| {s:.2f} | {q} |" for s, q in stops]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
