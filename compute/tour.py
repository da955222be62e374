"""The guided tour's numbers: each of the paper's findings as measured on the shipped models,
read from what their checkpoints store (their test-set evaluations), never typed in, with the
interval n canvases allow and the sentence that says how far the claim holds at this scale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .intervals import wilson
from .studies import compare_setting, dataset_race, glance_setting

__all__ = ["Measured", "clean_look", "attention_helps", "glances_race", "attention_pulled"]


@dataclass(frozen=True)
class Measured:
    """What a tour step states: the number(s) in one sentence, and whether the claim holds at
    this scale (None where the step only describes)."""

    text: str
    holds: bool | None


def _test(meta: Mapping[str, Any]) -> dict[str, Any]:
    test = (meta.get("metrics") or {}).get("test") if isinstance(meta.get("metrics"), dict) else None
    return test if isinstance(test, dict) else {}


def _acc(acc: float, n: int) -> str:
    lo, hi = wilson(round(acc * n), n)
    return f"{acc:.2f} [{lo:.2f}, {hi:.2f}]"


def clean_look(meta: Mapping[str, Any], name: str) -> Measured | None:
    """Clean accuracy and the share of attention on the item, from the stored test evaluation."""
    test = _test(meta)
    if not {"clean_acc", "attention_on_item_clean", "n"} <= set(test):
        return None
    n = int(test["n"])
    return Measured(f"{name} reads {n:,} test canvases at clean accuracy {_acc(test['clean_acc'], n)} (95% interval), "
                    f"with {test['attention_on_item_clean']:.2f} of its attention (mean over glances and heads) "
                    "inside the item's box.", None)


def attention_helps(s3ta: Mapping[str, Any], baseline: Mapping[str, Any], glances: int,
                    names: tuple[str, str]) -> Measured | None:
    """Finding 1 on a shipped pair: the stored budget where the two differ most, both accuracies
    with their intervals, and whether the intervals separate."""
    a, b = dataset_race(s3ta), dataset_race(baseline)
    setting = compare_setting(a, glances, b, names)
    if setting is None:
        return None

    def acc(rows: list[dict[str, Any]], want: int | None) -> tuple[float, int]:
        mine = [r for r in rows if r["target"] == setting.target and float(r["eps_255"]) == setting.eps_255
                and int(r["steps"]) == setting.steps]
        counts = sorted({int(r["glances"]) for r in mine})
        g = counts[0] if want is None else min(counts, key=lambda c: (abs(c - want), c))
        row = next(r for r in mine if int(r["glances"]) == g)
        return float(row["acc"]), int(row.get("n") or 0)

    (pa, na), (pb, nb) = acc(a, glances), acc(b, None)
    if not na or not nb:
        return None
    (alo, _), (_, bhi) = wilson(round(pa * na), na), wilson(round(pb * nb), nb)
    holds = alo > bhi
    verdict = ("the intervals do not overlap" if holds else "the intervals overlap: not shown beyond noise")
    return Measured(f"Under PGD-{setting.steps} towards a random wrong class at {setting.eps_255:g}/255 "
                    f"({na:,} test canvases): {names[0]} keeps {_acc(pa, na)}, {names[1]} {_acc(pb, nb)}; {verdict}. "
                    "One training seed each.", holds)


def glances_race(meta: Mapping[str, Any], name: str) -> Measured | None:
    """Finding 2 on one model: the stored budget where its glance counts differ most, whether that
    difference is beyond sampling noise (``glance_setting`` says which), and the same from 2
    glances on, since a task can make the first glance a cue's reading rather than a race."""
    rows = dataset_race(meta)
    setting = glance_setting(rows)
    if setting is None or rows is None:
        return None
    beyond = "beyond sampling noise" not in setting.why
    at = [r for r in rows if r["target"] == setting.target and float(r["eps_255"]) == setting.eps_255
          and int(r["steps"]) == setting.steps and int(r["glances"]) >= 2]
    text = f"{name}: {setting.why}."
    n = int(rows[0].get("n") or 0)
    if len(at) > 1 and n:
        lo, hi = min(at, key=lambda r: r["acc"]), max(at, key=lambda r: r["acc"])
        p = sum(float(r["acc"]) for r in at) / len(at)
        noise = 1.96 * (2 * p * (1 - p) / n) ** 0.5
        later = float(hi["acc"]) - float(lo["acc"]) >= noise
        text += (f" From 2 glances on: {float(lo['acc']):.2f} at {lo['glances']} to {float(hi['acc']):.2f} at "
                 f"{hi['glances']}, {'beyond' if later else 'within'} sampling noise (+-{noise:.2f}).")
        beyond = beyond and later
    return Measured(text, beyond)


def attention_pulled(meta: Mapping[str, Any], name: str) -> Measured | None:
    """Finding 3's visible half: how much a targeted attack lowers the attention on the item."""
    test = _test(meta)
    if not {"attention_on_item_clean", "attention_on_item_drop_32_255", "n"} <= set(test):
        return None
    before, drop = float(test["attention_on_item_clean"]), float(test["attention_on_item_drop_32_255"])
    return Measured(f"On {int(test['n']):,} test canvases, attacks at 32/255 lower {name}'s attention on the item "
                    f"from {before:.2f} by {drop:.2f} on average.", None)
