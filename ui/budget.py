"""The attack an experiment view runs: the budget that answers the view's question (chosen from
the checkpoints' stored test-set races) or the sidebar's, the user's pick, said on the view."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from compute.studies import ViewSetting
from model.attacks import AttackConfig


def describe(cfg: AttackConfig) -> str:
    size = f"{cfg.eps * 255:g}/255" if cfg.norm == "linf" else f"{cfg.eps:g} (L2)"
    step = "" if cfg.step_size is None or cfg.norm != "linf" else f" of {cfg.step_size * 255:g}/255"
    goal = {"random": "a random wrong class", "untargeted": "any wrong class", "class": "a chosen class"}[cfg.target]
    return f"{cfg.norm.replace('linf', 'L-inf')} {size}, PGD-{cfg.steps}{step} towards {goal}"


def view_attack(sidebar: AttackConfig, setting: ViewSetting | None, key: str) -> AttackConfig:
    """The attack this view runs, with a choice between its own budget and the sidebar's; only the
    budget (epsilon) changes, the rest (steps, step size, target, restarts, seed) is the sidebar's."""
    if setting is None or sidebar.norm != "linf":
        st.caption(f"Attack used here: {describe(sidebar)} (the sidebar's).")
        return sidebar
    if abs(sidebar.eps * 255 - setting.eps_255) < 1e-9:
        st.caption(f"Attack used here: {describe(sidebar)}: the sidebar's budget is also the one {setting.why}.")
        return sidebar
    own = replace(sidebar, eps=setting.eps_255 / 255)
    labels = {"view": f"{setting.eps_255:g}/255: {setting.why}",
              "sidebar": f"the sidebar's: {sidebar.eps * 255:g}/255"}
    pick = st.radio("Attack budget for this view", list(labels), format_func=labels.get, key=key,
                    help="The sidebar's budget can be too strong (or too weak) to answer this view's question; "
                         "this view's own budget was chosen from the test-set race stored in the checkpoints.")
    cfg = own if pick == "view" else sidebar
    st.caption(f"Attack used here: {describe(cfg)}.")
    return cfg
