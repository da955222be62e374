"""How fast the Strength sweep and Belief path views answer, in Chromium (Playwright against
`streamlit run app.py`), at their defaults (the sidebar's default attack: PGD-50 of 2/255 towards a
random wrong class at 4 glances; the sweep's budgets 0, 2, 4, 8, 16, 32/255), a new seed each
repeat so nothing is cached:

- Strength sweep on s3ta_default with its listed partner (baseline_default): from pressing Run to
  the first model's lines drawn (its first result), and to both models' drawn;
- the same, stopped after the first model: from pressing Stop to the page idle, the first model
  still drawn and the second not swept;
- Strength sweep on photo_attention alone (224 px through EfficientNet-Lite0): Run -> drawn;
- Belief path on s3ta_default: opening its link -> the clean path drawn (page load included), and pressing its Run
  button (the sidebar's attack) -> the adversarial path drawn.

    python -m bench.views_speed --repeats 5 --md bench/views_speed.md
    python -m bench.views_speed --repeats 5 --threads 1 --md bench/views_speed_1thread.md
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

from bench.browser import IDLE, launch, serve
from bench.report import emit

GOAL = 10.0  # seconds: a view's first result on one image


def traces_drawn(names: list[str], chart: str) -> str:
    """JavaScript: a plotly chart whose title holds ``chart`` has drawn a trace for every name."""
    wanted = ", ".join(f"'{n}'" for n in names)
    return ("() => [...document.querySelectorAll('.js-plotly-plot')].some(d => d._fullLayout && d._fullData"
            f" && String(d._fullLayout.title && d._fullLayout.title.text).includes('{chart}')"
            f" && [{wanted}].every(n => d._fullData.some(t => t.name === n))"
            " && d.querySelectorAll('.scatterlayer .trace').length > 0)")


def has_trace(page, name: str, chart: str) -> bool:
    return page.evaluate(traces_drawn([name], chart))


def run_button(page):
    return page.get_by_role("button", name=re.compile(r"^Run the sweep"))


def sweep_times(page, url: str, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"sweep first": [], "sweep both": [], "stop": []}
    chart = "The attack at each budget"
    for r in range(repeats):
        page.goto(f"{url}/?seed={300 + r}&tab=Strength%20sweep")
        run_button(page).wait_for(timeout=120_000)
        page.wait_for_selector(IDLE)
        t = time.perf_counter()
        run_button(page).click()
        page.wait_for_function(traces_drawn(["s3ta_default"], chart), timeout=120_000)
        out["sweep first"].append(time.perf_counter() - t)
        page.wait_for_function(traces_drawn(["s3ta_default", "baseline_default"], chart), timeout=120_000)
        out["sweep both"].append(time.perf_counter() - t)
        page.wait_for_selector(IDLE)
        # the same with Stop pressed once the first model is drawn
        page.goto(f"{url}/?seed={400 + r}&tab=Strength%20sweep")
        run_button(page).wait_for(timeout=120_000)
        page.wait_for_selector(IDLE)
        run_button(page).click()
        page.wait_for_function(traces_drawn(["s3ta_default"], chart), timeout=120_000)
        stop = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop, keeping what is done")
        if not stop.is_visible():  # the second model finished before Stop could be pressed
            continue
        t = time.perf_counter()
        stop.click()
        page.wait_for_timeout(200)
        page.wait_for_selector(IDLE, timeout=120_000)
        out["stop"].append(time.perf_counter() - t)
        kept = has_trace(page, "s3ta_default", chart) and not has_trace(page, "baseline_default", chart)
        if not kept or not run_button(page).is_visible():
            raise AssertionError("Stop did not keep the first model's sweep and offer the rest")
    return out


def photo_times(page, url: str, repeats: int) -> list[float]:
    times = []
    for r in range(repeats):
        page.goto(f"{url}/?model=photo_attention&seed={500 + r}&tab=Strength%20sweep")
        run_button(page).wait_for(timeout=180_000)
        page.wait_for_selector(IDLE)
        t = time.perf_counter()
        run_button(page).click()
        page.wait_for_function(traces_drawn(["photo_attention"], "The attack at each budget"), timeout=180_000)
        times.append(time.perf_counter() - t)
        page.wait_for_selector(IDLE)
    return times


def belief_times(page, url: str, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"belief clean": [], "belief adversarial": []}
    chart = "The belief after each"
    for r in range(repeats):
        t = time.perf_counter()  # a new glance count: nothing cached
        page.goto(f"{url}/?seed={600 + r}&glances={5 + r}&tab=Belief%20path")
        page.wait_for_function(traces_drawn(["clean"], chart), timeout=120_000)
        out["belief clean"].append(time.perf_counter() - t)
        page.wait_for_selector(IDLE)
        button = page.get_by_role("button", name=re.compile(r"^Run the sidebar's attack"))
        t = time.perf_counter()
        button.click()
        page.wait_for_function(traces_drawn(["clean", "adversarial"], chart), timeout=120_000)
        out["belief adversarial"].append(time.perf_counter() - t)
        page.wait_for_selector(IDLE)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--md", default=None)
    ap.add_argument("--threads", type=int, default=None, help="the server's torch threads (default: one per core)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    env = {} if args.threads is None else {"OMP_NUM_THREADS": str(args.threads)}
    with serve(env=env) as url, sync_playwright() as p:
        ctx = launch(p)
        page = ctx.new_page()
        times = sweep_times(page, url, args.repeats)
        times["sweep photo"] = photo_times(page, url, args.repeats)
        times.update(belief_times(page, url, args.repeats))
        ctx.close()
    names = {"sweep first": "Strength sweep, Run -> s3ta_default's lines drawn (its first result)",
             "sweep both": "Strength sweep, Run -> s3ta_default and baseline_default drawn",
             "stop": "Strength sweep, Stop during the second model -> page idle, the first kept",
             "sweep photo": "Strength sweep on photo_attention alone, Run -> drawn",
             "belief clean": "Belief path, link opened -> the clean path drawn (page load included)",
             "belief adversarial": "Belief path, Run (the sidebar's attack) -> the adversarial path drawn"}
    lines = ["| measurement (Chromium) | median s | min | max | n | goal |", "|---|---:|---:|---:|---:|---:|"]
    for key, values in times.items():
        goal = f"< {GOAL:g}" if key in ("sweep first", "sweep photo", "belief clean", "belief adversarial") else ""
        if values:
            lines.append(f"| {names[key]} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} | "
                         f"{len(values)} | {goal} |")
    load = os.getloadavg()[0]
    threads = args.threads or os.cpu_count()
    lines.append(f"\n{args.repeats} repeats; the server's torch threads {threads}; {os.cpu_count()} CPU cores; "
                 f"load average {load:.1f} at the end (other processes on the machine).")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
