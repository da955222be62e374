"""S3TA Lab: where a sequential attention classifier looks, glance by glance, and how an
adversarial attack pulls its attention away.

    s3ta-lab            # or: streamlit run app.py

The entry: the sidebar every view shares, the strip above them, and the navigation over the
views in ``ui/views/`` (one module each). Computing lives in ``compute/``, drawing in ``viz/``.
"""

from __future__ import annotations

import os

# Before torch loads OpenMP: a thread waiting for work spins briefly, then sleeps. Spinning longer
# (the default) made the glance grid's attack 5-12x slower beside other busy processes (other
# sessions, a training run); sleeping at once (OMP_WAIT_POLICY=PASSIVE) made it 2.7x slower on a
# quiet machine; this short spin costs nothing quiet (bench/busy_machine.md).
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import streamlit as st  # noqa: E402

from ui import header  # noqa: E402
from ui.notices import image_notices  # noqa: E402
from ui.resources import device, use_inference_form  # noqa: E402
from ui.scene import build_scene, ready  # noqa: E402
from ui.sidebar import choose_attack, choose_display, choose_glances, choose_image, choose_model  # noqa: E402
from ui.state import MAX_GLANCES, apply_link, set_defaults, update_link  # noqa: E402
from ui.views import GROUPS, VIEWS, by_title  # noqa: E402

INFERENCE_FORM = ("inference form (BatchNorm folded, channels last: about 0.6 of the eager cost per attack step; "
                  "not compiled, so the first attack costs what every later one does)")


def main() -> None:
    st.set_page_config(page_title="S3TA Lab", layout="wide")
    pages = {v.title: st.Page(v.script, title=v.title, url_path=v.url) for v in VIEWS}
    nav = st.navigation({g: [pages[v.title] for v in VIEWS if v.group == g] for g in GROUPS}, position="top")
    problems, linked = apply_link()
    if problems:
        st.session_state["_link_problems"] = problems
    if linked is not None and linked != nav.title:
        st.switch_page(pages[linked])
    st.title("S3TA Lab")
    for problem in st.session_state.pop("_link_problems", []):
        st.warning(f"This link could not be followed entirely: {problem}.")
    set_defaults()
    choice = choose_model()
    if choice is None:
        st.query_params.clear()
        return
    model = choice.model
    info = model.info
    st.caption(f"Model **{choice.name}** · {info.task} · {model.config.arch} · {len(info.class_names)} classes · "
               f"device: **{device()}** · "
               + (INFERENCE_FORM if use_inference_form() else "eager model (S3TA_INFERENCE_FORM=0)"))
    if info.description:  # what the model is, in its own words (e.g. the cued model's looks)
        st.caption(info.description)
    picked = choose_image(model)
    glances = choose_glances(model)
    attack = choose_attack(choice.class_names, min(model.default_glances, MAX_GLANCES))
    display = choose_display(model.heads, model.config.image_size, model.has_attention)
    if picked is None:
        update_link(choice.stem, None, nav.title, False)
        return
    image_notices(picked, choice)
    scene = build_scene(choice, picked, glances, attack, display)
    header.render(scene)
    st.subheader(nav.title)
    if ready(scene, by_title(nav.title).needs):
        nav.run()
    update_link(choice.stem, picked.sample, nav.title, scene.run is not None)


if __name__ == "__main__":
    main()
