"""The guided tour: its numbers come from what the checkpoints store (checked on hand-made
metadata), and the page walks from the first step to the last with its live examples."""

from __future__ import annotations

import pytest

from compute.tour import attention_helps, attention_pulled, clean_look, glances_race

from .conftest import linked_page, open_tab


def race(accs: dict[tuple[int, int], float], n: int = 1000, model: str = "m") -> dict:
    """Metadata holding a stored race: accuracy per (glances, eps_255) under PGD-50."""
    rows = [{"model": model, "glances": g, "target": "random", "eps_255": e, "steps": 50, "acc": a, "n": n}
            for (g, e), a in accs.items()]
    return {"metrics": {"race": {"rows": rows}, "test": {"clean_acc": 0.8, "attention_on_item_clean": 0.7,
                                                         "attention_on_item_drop_32_255": 0.25, "n": 2000}}}


def test_finding_one_holds_only_when_the_intervals_separate():
    s3ta = race({(4, 8): 0.70, (4, 16): 0.40})
    far = race({(1, 8): 0.60, (1, 16): 0.20}, model="b")
    near = race({(1, 8): 0.68, (1, 16): 0.38}, model="b")
    said = attention_helps(s3ta, far, 4, ("s", "b"))
    assert said.holds and "16/255" in said.text and "0.40" in said.text and "0.20" in said.text
    assert not attention_helps(s3ta, near, 4, ("s", "b")).holds
    assert attention_helps({}, far, 4, ("s", "b")) is None


def test_finding_two_says_what_is_left_after_the_first_glance():
    cued = glances_race(race({(1, 8): 0.10, (2, 8): 0.64, (4, 8): 0.66}), "cued")
    assert not cued.holds and "0.10 at 1 glance" in cued.text and "within sampling noise" in cued.text
    rising = glances_race(race({(1, 8): 0.10, (2, 8): 0.40, (4, 8): 0.66}), "rising")
    assert rising.holds and "beyond sampling noise" in rising.text


def test_the_descriptive_steps_read_the_stored_test_evaluation():
    meta = race({(4, 8): 0.7})
    assert "0.80 [0.78, 0.82]" in clean_look(meta, "m").text
    assert "from 0.70 by 0.25" in attention_pulled(meta, "m").text
    assert clean_look({}, "m") is None and attention_pulled({}, "m") is None


def step(at) -> str:
    return next(p.proto.text for p in at.get("progress") if p.proto.text.startswith("Step"))


@pytest.mark.slow
def test_the_tour_walks_from_first_step_to_last_with_its_examples():
    at = open_tab(linked_page(), "Guided tour")
    assert "Step 1 of 5" in step(at)
    assert any("clean accuracy" in i.value for i in at.info)
    at.button(key="tour_next").click().run()
    assert any("s3ta_default keeps" in m.value for m in [*at.success, *at.warning])
    at.button(key="tour_compare").click().run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("s3ta_default: predicts") for c in at.caption)
    at.button(key="tour_next").click().run()
    assert any("s3ta_cued" in w.value for w in [*at.warning, *at.success])
    at.button(key="tour_next").click().run()
    at.button(key="tour_attack").click().run()
    assert not at.exception, at.exception
    assert any("attention on the item" in c.value for c in at.caption)
    at.button(key="tour_next").click().run()
    assert "Step 5 of 5" in step(at)
    assert not [b for b in at.button if b.key == "tour_next"]
    assert at.query_params["tour_step"] in ("5", ["5"])


def test_a_link_to_a_step_past_the_end_opens_the_first_with_a_message():
    at = linked_page(tab="Guided tour", tour_step="9")
    assert "Step 1 of 5" in step(at)
    assert any("tour_step" in w.value for w in at.warning)
