"""Concurrent sessions: several Chromium sessions at once against one app server, each running
attacks and compare mode; every result shown must equal the same request computed alone.

    python -m bench.load --sessions 4 --rounds 3 --md bench/load.md

Each session (its own browser context, so its own Streamlit session) opens a shared link (a
gallery sample, a seed of its own, the Compare tab), presses Run attack, waits for the
adversarial top-5, then presses "Run the attack on both models" and waits until both panels are
drawn. The bench then recomputes every request alone through the public API (the same model in
its inference form, the same image, settings and seed) and checks the predictions and outcomes
the pages showed. It reports errors, mismatches, and latency percentiles per action.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.browser import ARGS, CHROMIUM, IDLE, serve
from bench.report import emit
from compute.runs import DEFAULT_ATTACK, run_attack

ROOT = Path(__file__).resolve().parent.parent

DRAWN = ("() => [...document.querySelectorAll('.js-plotly-plot')].some(d => d._fullLayout &&"
         " String(d._fullLayout.title && d._fullLayout.title.text).includes('The same attack')"
         " && d.querySelectorAll('image').length >= 2)")
TITLES = ("() => { const d = [...document.querySelectorAll('.js-plotly-plot')].find(d => d._fullLayout &&"
          " String(d._fullLayout.title && d._fullLayout.title.text).includes('The same attack'));"
          " return d._fullLayout.annotations.map(a => a.text); }")


async def session(browser: Any, url: str, index: int, rounds: int, samples: list[str]) -> list[dict[str, Any]]:
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    out = []
    for r in range(rounds):
        sample, seed = samples[(index + 3 * r) % len(samples)], 1000 + 10 * index + r
        record: dict[str, Any] = {"session": index, "sample": sample, "seed": seed}
        try:
            await page.goto(f"{url}/?sample={sample}&seed={seed}&tab=Compare%20models")
            run = page.get_by_role("button", name="Run attack")
            await run.wait_for(timeout=120_000)
            await page.wait_for_selector(IDLE, timeout=120_000)
            t = time.perf_counter()
            await run.click()
            main = page.locator("[data-testid=stMain]")
            adversarial = main.locator("[data-testid=stMarkdownContainer]").filter(has_text="Adversarial:").first
            await adversarial.wait_for(timeout=300_000)
            record["attack_s"] = time.perf_counter() - t
            record["adversarial"] = (await adversarial.inner_text()).strip()
            outcome = main.locator("[data-testid=stCaptionContainer]").filter(has_text="The attack ").first
            record["outcome"] = (await outcome.inner_text()).split(" in ")[0]
            await page.wait_for_selector(IDLE, timeout=120_000)
            both = page.get_by_role("button", name="Run the attack on both models")
            await both.wait_for(timeout=120_000)
            t = time.perf_counter()
            await both.click()
            await page.wait_for_function(DRAWN, timeout=300_000)
            record["compare_s"] = time.perf_counter() - t
            record["titles"] = await page.evaluate(TITLES)
            errors = page.locator("[data-testid=stException], [data-testid=stAlertContentError]")
            record["errors"] = await errors.count()
        except Exception as exc:  # noqa: BLE001 - a failed session is a result to report
            record["failure"] = f"{type(exc).__name__}: {exc}"[:300]
        out.append(record)
    await ctx.close()
    return out


async def drive(url: str, sessions: int, rounds: int, samples: list[str]) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        results = await asyncio.gather(*(session(browser, url, i, rounds, samples) for i in range(sessions)))
        await browser.close()
    return [r for rs in results for r in rs]


def expected(record: dict[str, Any], models: dict[str, Any], samples: dict[str, Any]) -> dict[str, Any]:
    """What the same request shows when computed alone, through the public API."""
    sample = samples[record["sample"]]
    cfg = DEFAULT_ATTACK  # the page's default attack
    runs = {stem: run_attack(m, sample.image, sample.label, 4, cfg, seed=record["seed"]) for stem, m in models.items()}
    names = next(iter(models.values())).metadata["class_names"]
    first = runs["s3ta_default"]
    goal = names[first.target]
    titles = []
    for stem, run in runs.items():
        verdict = "reached" if run.success else "missed"
        titles.append(f"{stem}: {names[run.prediction.label]} ({run.prediction.probs.max():.0%}), {verdict} "
                      f"{names[run.target]}")
    return {"adversarial": f"Adversarial: {names[first.prediction.label]}",
            "outcome": f"The attack {'reached' if first.success else 'did not reach'} {goal} against 4 glances",
            "titles": titles}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--md", default=None)
    args = p.parse_args()
    from compute.catalog import open_checkpoint
    from compute.images import load_samples
    from model.checkpoint import DEFAULT_CHECKPOINT

    gallery = {s.name: s for s in load_samples()}
    t0 = time.perf_counter()
    with serve() as url:
        records = asyncio.run(drive(url, args.sessions, args.rounds, list(gallery)))
    wall = time.perf_counter() - t0
    models = {stem: open_checkpoint(DEFAULT_CHECKPOINT.parent / f"{stem}.safetensors")
              for stem in ("s3ta_default", "baseline_default")}
    failures = [r for r in records if "failure" in r]
    errors = sum(r.get("errors", 0) for r in records)
    mismatches = []
    for r in records:
        if "failure" in r:
            continue
        want = expected(r, models, gallery)
        got_titles = [t.replace(" (no attention)", "") for t in r["titles"]]
        if r["adversarial"] != want["adversarial"] or r["outcome"] != want["outcome"] or got_titles != want["titles"]:
            mismatches.append((r, want))
    lines = [f"{args.sessions} concurrent Chromium sessions x {args.rounds} rounds against one server "
             f"({os.cpu_count()} CPU cores, S3TA_MAX_ATTACKS={os.environ.get('S3TA_MAX_ATTACKS', '2')}); "
             f"each round: Run attack (the page's default: PGD-{DEFAULT_ATTACK.steps} of "
             f"{DEFAULT_ATTACK.alpha * 255:g}/255 steps, {DEFAULT_ATTACK.eps * 255:g}/255) then compare mode "
             f"(PGD-{DEFAULT_ATTACK.steps} on the baseline too); "
             f"{wall:.0f} s in all.", "",
             f"- requests: {len(records)} rounds, {len(failures)} failed, {errors} error messages on the pages",
             f"- results equal to the same request computed alone: {len(records) - len(failures) - len(mismatches)} "
             f"of {len(records) - len(failures)}", "",
             "| action | n | median s | p95 s | max s |", "|---|---:|---:|---:|---:|"]
    for key, label in (("attack_s", "Run attack -> adversarial top-5 shown"),
                       ("compare_s", "Run on both models -> both panels drawn")):
        values = [r[key] for r in records if key in r]
        if values:
            lines.append(f"| {label} | {len(values)} | {statistics.median(values):.2f} | "
                         f"{percentile(values, 0.95):.2f} | {max(values):.2f} |")
    for r, want in mismatches[:5]:
        lines.append(f"\nMismatch (session {r['session']}, {r['sample']}, seed {r['seed']}): shown "
                     f"{r['adversarial']!r} / {r['outcome']!r} / {r['titles']}; alone {want}")
    for r in failures[:5]:
        lines.append(f"\nFailure (session {r['session']}, {r['sample']}, seed {r['seed']}): {r['failure']}")
    emit(lines, args.md)
    if failures or mismatches or errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
