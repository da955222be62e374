"""How far the attack moved the attention, glance by glance: mass in the object's box,
Jensen-Shannon divergence and centre-of-mass shift between the clean and adversarial maps."""

from __future__ import annotations

import numpy as np
import streamlit as st

from compute.runs import pull_readout
from ui.scene import Scene, current


def render(scene: Scene) -> None:
    subject = scene.subject
    r = pull_readout(scene.clean, scene.shown, subject.image.shape[:2], subject.box, scene.display.head)
    n = len(r["js"])
    rows = {"glance": list(range(1, n + 1)), "JS divergence (nats)": np.round(r["js"], 4),
            "centre-of-mass shift (px)": np.round(r["com_shift"], 2)}
    if "mass_clean" in r:
        rows["mass in box, clean"] = np.round(r["mass_clean"], 3)
        rows["mass in box, adversarial"] = np.round(r["mass_adv"], 3)
        st.metric("Attention mass in the box, last glance", f"{r['mass_adv'][-1]:.0%}",
                  delta=f"{(r['mass_adv'][-1] - r['mass_clean'][-1]) * 100:+.1f} points vs clean")
    else:
        st.caption("No object box: mark one in the sidebar to measure attention mass on the object.")
    st.dataframe(rows, hide_index=True)


if __name__ == "__main__":
    render(current())
