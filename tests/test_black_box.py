"""The black-box attack for display (``compute.black_box``): the frames it keeps, a run equal to
the library's, the cache, the CSV, and an interrupted run kept with its best iterate."""

import csv
import io

import numpy as np
import pytest
import torch

from compute.black_box import black_box, cached_square, query_frames, run_square, square_csv, square_key
from compute.catalog import open_checkpoint
from compute.images import load_samples
from compute.lab import Lab, Subject
from compute.runs import image_target
from model.checkpoint import DEFAULT_CHECKPOINT
from model.square import SquareConfig, square_attack


@pytest.fixture(scope="module")
def form():
    return open_checkpoint(DEFAULT_CHECKPOINT)


class Interrupt(BaseException):
    """What a page raises out of a progress update when a control is pressed."""


def test_query_frames_are_geometric_bounded_and_keep_both_ends():
    frames = query_frames(1000)
    assert frames[:3] == [0, 1, 2] and frames[-1] == 1000 and len(frames) <= 24
    gaps = np.diff(frames[1:])
    assert (gaps >= 0).all() and gaps[-1] > 10 * gaps[0]  # dense early, sparse late
    assert query_frames(3) == [0, 1, 2, 3] and query_frames(1) == [0, 1]
    with pytest.raises(ValueError):
        query_frames(0)


def test_a_run_equals_the_library_and_draws_its_queries(form):
    sample = load_samples()[0]
    cfg = SquareConfig(eps=16 / 255, queries=30, target="random")
    run = run_square(form, sample.image, sample.label, 4, cfg, seed=3)
    target = image_target(sample.image, sample.label, 10, 3)  # the page's per-image rule
    x = torch.from_numpy(sample.image).permute(2, 0, 1)[None].float()
    direct = square_attack(form, x, torch.tensor([sample.label]), cfg, glances=4, seed=3,
                           targets=torch.tensor([target]))
    assert run.target == target and run.success == bool(direct.success[0])
    assert run.queries == int(direct.queries[0]) and not run.stopped
    np.testing.assert_array_equal(run.image, direct.images[0].permute(1, 2, 0).numpy())
    assert run.drift.labels[0] == "clean" and run.drift.labels[-1].endswith("(result)")
    np.testing.assert_array_equal(run.drift.images[0], sample.image)
    np.testing.assert_array_equal(run.drift.images[-1], run.image)
    assert run.drift.attention.shape[:2] == (len(run.drift.labels), 4)
    rows = list(csv.reader(io.StringIO(square_csv(run, sample.image, list(form.class_names)).decode())))
    header = rows.index(["frame", "predicted", "p_label", "p_target", "linf_255", "l2"])
    table = rows[header + 1:]
    assert [r[0] for r in table] == run.drift.labels
    assert float(table[0][4]) == 0 and float(table[-1][4]) <= 16 + 1e-3
    assert table[-1][1] == form.class_names[run.prediction.label]
    assert ["# queries_used", str(run.queries)] in rows


def test_an_interrupted_run_keeps_its_best_iterate_and_is_not_cached(form):
    sample = load_samples()[1]
    lab = Lab()
    subject = Subject(form, "m", sample.image, "sample:x", sample.name, sample.label, sample.box, 4)
    cfg = SquareConfig(eps=2 / 255, queries=500, target="untargeted")  # too small to succeed early
    calls = []

    def progress(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 7:
            raise Interrupt

    with pytest.raises(Interrupt):
        black_box(lab, subject, cfg, 0, progress)
    run = cached_square(lab, subject, cfg, 0)
    assert run.stopped and run.queries == 7 and not run.success
    assert np.abs(run.image - sample.image).max() <= 2 / 255 + 1e-6
    assert square_key(subject, cfg, 0) not in lab.results  # kept apart: asked again, it runs anew
    small = SquareConfig(eps=2 / 255, queries=12, target="untargeted")
    done = black_box(lab, subject, small, 0)  # a run to its end is cached
    assert not done.stopped and cached_square(lab, subject, small, 0) is done


def test_bad_runs_are_refused(form):
    sample = load_samples()[0]
    with pytest.raises(ValueError, match="label"):
        run_square(form, sample.image, 10, 4, SquareConfig())
    with pytest.raises(ValueError, match="class being attacked"):
        run_square(form, sample.image, 2, 4, SquareConfig(target="class", target_class=2))
    with pytest.raises(ValueError, match="glances"):
        run_square(form, sample.image, 2, 0, SquareConfig())


def test_the_run_draws_as_valid_plotly_and_one_sheet(form):
    import plotly.graph_objects as go

    from model.inference import predict
    from viz.figures import query_curve_figure, query_drift_figure
    from viz.frames import Display, black_box_sheet

    sample = load_samples()[2]
    names = list(form.class_names)
    run = run_square(form, sample.image, sample.label, 4, SquareConfig(eps=16 / 255, queries=20, target="random"))
    drift = query_drift_figure(run, names, sample.box, Display(), has_attention=True).to_dict()
    go.Figure(drift)  # plotly's own validator accepts the hand-built figure
    assert len(drift["frames"]) == len(run.drift.labels) and "glance 4" in str(drift["layout"])
    plain = query_drift_figure(run, names, sample.box, Display(), has_attention=False).to_dict()
    assert "no attention" in str(plain["layout"])
    curve = query_curve_figure(run, names).to_dict()
    go.Figure(curve)
    assert [len(t["y"]) for t in curve["data"]] == [len(run.drift.labels)] * 2  # the label and the target
    assert curve["data"][0]["x"][0] < 1 <= curve["data"][0]["x"][1]  # the clean image left of query 1
    sheet = black_box_sheet(sample.image, predict(form, sample.image, 4), run, names, sample.box, Display(zoom=2),
                            has_attention=True)
    assert sheet.dtype == np.uint8 and sheet.shape[1] == 3 * 192 + 2 * 4  # three panels, two gaps


def test_a_page_run_waits_for_a_stopped_attack_still_handing_over(form):
    """The next page run may start while the stopped one still unwinds in its thread:
    ``cached_square`` waits for the attack to end and finds its best iterate."""
    import threading
    import time

    sample = load_samples()[0]
    lab = Lab()
    subject = Subject(form, "m", sample.image, "sample:x", sample.name, sample.label, sample.box, 4)
    cfg = SquareConfig(eps=1 / 255, queries=50, target="untargeted")
    pressed, calls = threading.Event(), []

    def progress(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 3:
            pressed.set()
            time.sleep(0.3)  # the stopped run still unwinding
            raise Interrupt

    def attack() -> None:
        with pytest.raises(Interrupt):
            black_box(lab, subject, cfg, 0, progress)

    worker = threading.Thread(target=attack)
    worker.start()
    assert pressed.wait(30.0)
    t = time.perf_counter()
    run = cached_square(lab, subject, cfg, 0)
    assert time.perf_counter() - t >= 0.2 and run is not None and run.stopped and run.queries == 3
    worker.join()
    assert cached_square(lab, subject, SquareConfig(eps=1 / 255, queries=51), 0) is None  # other settings: nothing


def test_one_thread_holds_while_any_block_runs_and_then_gives_the_setting_back():
    import threading

    import torch

    from compute import black_box
    from compute.black_box import one_thread

    before = torch.get_num_threads()
    inside, release = threading.Event(), threading.Event()

    def other():
        with one_thread():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 1  # the other block still runs: new threads keep one
    release.set()
    t.join()
    seen = []
    fresh = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    fresh.start()
    fresh.join()
    assert seen == [black_box._THREADS]  # the last block to end put the process's setting back
    torch.set_num_threads(before)
