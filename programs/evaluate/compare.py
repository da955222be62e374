"""Two evaluation modes built on per-canvas outcomes (``outcomes``) and paired statistics
(``paired``)::

    # A against B on the same canvases and attack seeds: B - A, its paired bootstrap 95% interval
    # and McNemar's exact p (several checkpoints per side, one per training seed: the mean
    # difference over seeds with its t interval)
    python -m programs.evaluate compare --a assets/s3ta_default.safetensors --glances-a 1 \\
        --b assets/s3ta_default.safetensors --glances-b 8 --n 500 --eps 16 --steps 50 --canvases final

    # robust accuracy over attack steps (one long PGD run read at each count) and under APGD-T,
    # one line per glance count, with each count compared to the smallest on the same canvases
    python -m programs.evaluate curve --checkpoints assets/s3ta_default.safetensors --glances 1 8 \\
        --eps 16 --steps 10 50 200 1000 --apgdt-steps 100 --n 500 --canvases final --out runs/curve
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model.checkpoint import load_checkpoint
from model.data.splits import CanvasSet
from model.inference_form import inference_form

from .checkpoints import add_canvas_arguments, canvas_task, chosen_canvases, model_names
from .outcomes import Outcome, apgdt_outcomes, pgd_outcomes, to_bits
from .paired import paired, seed_summary, wilson

__all__ = ["PAIRED_MODES", "add_paired_parsers", "run_paired", "compare_markdown", "curve_markdown"]

PAIRED_MODES = ("compare", "curve")


def add_paired_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``compare`` and ``curve`` modes' arguments."""
    c = sub.add_parser("compare", help="A against B on the same canvases and attack seeds: the difference with a "
                                       "paired 95%% interval and McNemar's exact p; over training seeds, the mean "
                                       "difference with its t interval")
    c.add_argument("--a", type=Path, nargs="+", required=True,
                   help="A's checkpoint, or one per training seed (paired with --b's in order)")
    c.add_argument("--glances-a", type=int, default=None, help="A's glance count, attacked and read (default: its own)")
    c.add_argument("--b", type=Path, nargs="+", required=True, help="B's checkpoint(s); one side may have one")
    c.add_argument("--glances-b", type=int, default=None)
    c.add_argument("--n", "--num-examples", dest="n", type=int, default=500, help="test canvases")
    c.add_argument("--eps", type=float, default=16, help="L-inf epsilon in /255 units (0 with --steps 0: clean)")
    c.add_argument("--steps", type=int, default=50, help="PGD steps")
    c.add_argument("--target", default="random", choices=["random", "untargeted"])
    c.add_argument("--step-size", type=float, default=None,
                   help="in /255 units (default: the protocol's max(1/255, eps/steps))")
    c.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples of the canvases")
    c.add_argument("--json", type=Path, help="also write the comparison to this file")
    k = sub.add_parser("curve", help="robust accuracy over PGD steps (one long run read at each count) and under "
                                     "APGD-T, a line per glance count, each count compared to the smallest")
    k.add_argument("--checkpoints", type=Path, nargs="+", required=True)
    k.add_argument("--glances", type=int, nargs="+", default=[1, 2, 4, 8])
    k.add_argument("--n", "--num-examples", dest="n", type=int, default=500, help="test canvases")
    k.add_argument("--eps", type=float, default=16, help="L-inf epsilon in /255 units")
    k.add_argument("--steps", type=int, nargs="+", default=[10, 50, 200, 1000], help="PGD step counts")
    k.add_argument("--target", default="random", choices=["random", "untargeted"], help="PGD's target")
    k.add_argument("--step-size", type=float, default=None,
                   help="in /255 units (default: the protocol's max(1/255, eps/steps))")
    k.add_argument("--apgdt-steps", type=int, default=100, help="APGD-T's steps per target and restart (0: no APGD-T)")
    k.add_argument("--apgdt-restarts", type=int, default=1, help="APGD-T's random starts per target class")
    k.add_argument("--apgdt-targets", type=int, default=9, help="APGD-T's target classes (the model's top ones)")
    k.add_argument("--out", type=Path, default=Path("runs/curve"))
    for q in (c, k):
        q.add_argument("--batch-size", type=int, default=100)
        q.add_argument("--seed", type=int, default=0, help="the development canvases' seed")
        q.add_argument("--threads", type=int, default=None)
        q.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
        add_canvas_arguments(q)


def _load(paths: list[Path], device: torch.device) -> tuple[dict[Path, nn.Module], str]:
    """Each distinct checkpoint's inference form, and the canvas task they share."""
    distinct = list(dict.fromkeys(paths))
    loaded = {p: load_checkpoint(p, device) for p in distinct}
    task = canvas_task([meta for _, meta, _ in loaded.values()], distinct)
    return {p: inference_form(model) for p, (model, _, _) in loaded.items()}, task


def _pairs(a: list[Path], b: list[Path]) -> list[tuple[Path, Path]]:
    if len(a) == len(b):
        return list(zip(a, b))
    if len(a) == 1 or len(b) == 1:
        return [(x, y) for x in a for y in b]
    raise SystemExit(f"--a and --b pair checkpoints by training seed: give as many of each, or one on a side "
                     f"(got {len(a)} and {len(b)})")


def _canvas_record(canvases: CanvasSet, n: int) -> dict[str, Any]:
    return {"name": canvases.name, "first_index": canvases.start, "n": n, "seed": canvases.seed}


def run_paired(args: argparse.Namespace, command: str, device: torch.device, main_rank: bool) -> dict[str, Any]:
    """Run ``compare`` or ``curve``; rank 0 prints and writes the results."""
    canvases = chosen_canvases(args, args.n)
    if args.mode == "compare":
        result = compare(args, canvases, device, main_rank)
        result["command"] = command
        if main_rank:
            print(compare_markdown(result))
            if args.json:
                args.json.write_text(json.dumps(result, indent=1) + "\n")
        return result
    result = curve(args, canvases, device, main_rank)
    result["command"] = command
    if main_rank:
        write_curve(result, args.out)
        print(curve_markdown(result))
    return result


def compare(args: argparse.Namespace, canvases: CanvasSet, device: torch.device, progress: bool) -> dict[str, Any]:
    """Every (A, B) pair on the same canvases and attack seeds, and the mean over pairs."""
    pairs = _pairs(args.a, args.b)
    forms, task = _load([*args.a, *args.b], device)
    seen: dict[tuple[Path, int], Outcome] = {}

    def outcome(path: Path, glances: int | None) -> tuple[int, Outcome]:
        g = forms[path].glances_for(glances)
        if (path, g) not in seen:
            seen[(path, g)] = pgd_outcomes(forms[path], g, canvases, args.n, args.eps, [args.steps], args.target,
                                           args.step_size, args.batch_size, task=task, progress=progress)[args.steps]
        return g, seen[(path, g)]

    rows = []
    for i, (a, b) in enumerate(pairs):
        ga, oa = outcome(a, args.glances_a)
        gb, ob = outcome(b, args.glances_b)
        rows.append({"a": str(a), "glances_a": ga, "b": str(b), "glances_b": gb,
                     **paired(oa.correct, ob.correct, args.resamples, seed=i).as_dict()})
    over = seed_summary([r["diff"] for r in rows]).as_dict() if len(rows) > 1 else None
    attack = {"eps_255": args.eps, "steps": args.steps, "target": args.target, "step_size_255": args.step_size}
    return {"task": task, "canvases": _canvas_record(canvases, args.n), "attack": attack, "pairs": rows,
            "over_seeds": over}


def compare_markdown(result: dict[str, Any]) -> str:
    """The comparison as a markdown table (and the mean over seeds where there are several)."""
    at = result["attack"]
    what = ("clean" if at["eps_255"] == 0 and at["steps"] == 0 else
            f"PGD-{at['steps']} ({at['target']} target) at {at['eps_255']:g}/255")
    c = result["canvases"]
    lines = [f"{what}, {c['n']} {c['name']} canvases (seed {c['seed']}, from index {c['first_index']})", "",
             "| A | B | acc A | acc B | B - A [paired 95%] | only A right / only B right | McNemar p |",
             "|---|---|---:|---:|---|---:|---:|"]
    for r in result["pairs"]:
        lines.append(f"| {r['a']} @ {r['glances_a']} | {r['b']} @ {r['glances_b']} | {r['acc_a']:.3f} | "
                     f"{r['acc_b']:.3f} | {r['diff']:+.3f} [{r['diff_lo']:+.3f}, {r['diff_hi']:+.3f}] | "
                     f"{r['only_a']} / {r['only_b']} | {r['p_mcnemar']:.3g} |")
    over = result["over_seeds"]
    if over:
        lines += ["", f"Over {over['seeds']} training seeds: B - A = {over['mean']:+.3f} (sd {over['sd']:.3f}), "
                      f"95% t interval [{over['lo']:+.3f}, {over['hi']:+.3f}]"]
    return "\n".join(lines) + "\n"


def curve(args: argparse.Namespace, canvases: CanvasSet, device: torch.device, progress: bool) -> dict[str, Any]:
    """Rows of accuracy per (model, glances, attack), each glance count compared with the model's
    smallest on the same canvases, and the per-canvas outcomes ('1' correct) behind them."""
    forms, task = _load(args.checkpoints, device)
    names = model_names(args.checkpoints)
    rows, comparisons, per_canvas = [], [], {}
    for path in dict.fromkeys(args.checkpoints):
        form, name = forms[path], names[path]
        results: dict[int, dict[str, Outcome]] = {}
        for g in sorted({form.glances_for(g) for g in args.glances}):
            got = {f"PGD-{k}": o for k, o in pgd_outcomes(form, g, canvases, args.n, args.eps, args.steps, args.target,
                                                          args.step_size, args.batch_size, task=task,
                                                          progress=progress).items()}
            if args.apgdt_steps:
                got[f"APGD-T-{args.apgdt_steps}"] = apgdt_outcomes(form, g, canvases, args.n, args.eps,
                                                                   args.apgdt_steps, args.apgdt_restarts,
                                                                   args.apgdt_targets, args.batch_size, task=task,
                                                                   progress=progress)
            results[g] = got
            for attack, o in got.items():
                lo, hi = wilson(o.acc, args.n)
                rows.append({"model": name, "arch": form.config.arch, "glances": g, "attack": attack,
                             "target": args.target if attack.startswith("PGD") else "apgd-t", "eps_255": args.eps,
                             "steps": int(attack.rsplit("-", 1)[1]), "n": args.n, "acc": o.acc, "acc_lo": lo,
                             "acc_hi": hi, "attack_success": float(o.success.mean()), "seconds": o.seconds})
                per_canvas[f"{name}@{g}/{attack}"] = to_bits(o.correct)
        first = min(results)
        for g in sorted(results)[1:]:
            for attack in results[g]:
                comparisons.append({"model": name, "glances_a": first, "glances_b": g, "attack": attack,
                                    **paired(results[first][attack].correct, results[g][attack].correct).as_dict()})
    apgdt = ({"steps": args.apgdt_steps, "restarts": args.apgdt_restarts, "target_classes": args.apgdt_targets}
             if args.apgdt_steps else None)
    return {"task": task, "canvases": _canvas_record(canvases, args.n), "eps_255": args.eps,
            "pgd": {"steps": args.steps, "target": args.target, "step_size_255": args.step_size}, "apgdt": apgdt,
            "rows": rows, "paired": comparisons, "per_canvas": per_canvas}


def curve_markdown(result: dict[str, Any]) -> str:
    """Accuracy per (model, glances) over the attacks, then each glance count against the smallest."""
    rows, c = result["rows"], result["canvases"]
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    out = [f"Accuracy under attack at {result['eps_255']:g}/255 (PGD towards {result['pgd']['target']} targets; "
           f"APGD-T: any wrong class), {c['n']} {c['name']} canvases (seed {c['seed']}, from index "
           f"{c['first_index']}); [Wilson 95%] under each", "",
           "| model | glances | " + " | ".join(attacks) + " |", "|---|---:|" + "---:|" * len(attacks)]
    for m, g in dict.fromkeys((r["model"], r["glances"]) for r in rows):
        cells = {r["attack"]: r for r in rows if r["model"] == m and r["glances"] == g}
        out.append(f"| {m} | {g} | " + " | ".join(
            f"{cells[a]['acc']:.3f} [{cells[a]['acc_lo']:.3f}, {cells[a]['acc_hi']:.3f}]" if a in cells else "-"
            for a in attacks) + " |")
    if result["paired"]:
        out += ["", "Each glance count against the model's smallest, on the same canvases (paired):", "",
                "| model | glances | attack | difference [paired 95%] | only fewer right / only more right | "
                "McNemar p |", "|---|---|---|---|---:|---:|"]
        for p in result["paired"]:
            out.append(f"| {p['model']} | {p['glances_b']} vs {p['glances_a']} | {p['attack']} | {p['diff']:+.3f} "
                       f"[{p['diff_lo']:+.3f}, {p['diff_hi']:+.3f}] | {p['only_a']} / {p['only_b']} | "
                       f"{p['p_mcnemar']:.3g} |")
    return "\n".join(out) + "\n"


def write_curve(result: dict[str, Any], out_dir: Path) -> None:
    """results.json (with per-canvas outcomes), results.md and race_<target>_<eps>.html (the PGD
    rows as accuracy against steps; skipped where plotly is missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "results.md").write_text(f"Command: `{result['command']}`\n\n" + curve_markdown(result))
    try:
        from viz.figures import race_figure
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] != "plotly":
            raise
        return
    target = result["pgd"]["target"]
    pgd_rows = [r for r in result["rows"] if r["attack"].startswith("PGD")]
    race_figure(pgd_rows, result["eps_255"], target).write_html(
        out_dir / f"race_{target}_{result['eps_255']:g}.html", include_plotlyjs="cdn")
