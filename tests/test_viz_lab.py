"""The app's shared computations: caching by inputs, one computation per key, bounded attacks,
and concurrent sessions getting exactly what they would get one by one."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from compute.cache import AttackGate, BusyError, ResultCache, digest, size_of
from compute.images import load_samples
from compute.lab import Lab, Subject
from compute.runs import attribution
from model import AttackConfig, load_model

from .conftest import Left, leave_at


@pytest.fixture(scope="module")
def model():
    return load_model()


def subject(model, sample, glances=4):
    return Subject(model, "default", sample.image, f"sample:{sample.name}", sample.name, sample.label,
                   sample.box, glances)


def test_cache_is_lru_and_keys_are_stable():
    cache = ResultCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # evicts b, the least recently used
    assert "b" not in cache and cache.get("a") == 1 and len(cache) == 2
    assert digest(b"x", {"k": 1}) == digest(b"x", {"k": 1}) != digest(b"y", {"k": 1})
    with pytest.raises(ValueError):
        ResultCache(0)


def test_cache_is_bounded_in_bytes():
    cache = ResultCache(100, max_bytes=3003)
    for i in range(10):
        cache.put(i, {"a": np.zeros(125)})  # 1001 bytes each (the key counts too)
    assert len(cache) == 3 and cache.bytes == 3003 and 9 in cache and 6 not in cache
    assert size_of({"x": [np.zeros(10), b"abc"]}) == 1 + 80 + 3


def test_a_stopped_run_is_shown_until_the_same_inputs_finish():
    lab = Lab(max_bytes=10_000)
    key = ("patch", "abc")
    assert lab.finished_or_stopped(key) is None
    lab.keeper(key)({"reached": np.zeros(100)})  # what a stopped run hands over
    assert lab.finished_or_stopped(key)["reached"].shape == (100,) and key not in lab.results
    used = lab.results.bytes
    lab.stoppable(key, lambda keep: "finished")  # the same inputs run to the end
    assert lab.finished_or_stopped(key) == "finished"
    assert lab.results.bytes < used and len(lab.results) == 1  # the stopped run's remains dropped
    lab.results.discard(("never", "held"))  # forgetting what is not held is a no-op


def test_get_or_compute_runs_once_for_concurrent_callers():
    cache, calls = ResultCache(), []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return 42

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: cache.get_or_compute("k", slow), range(8)))
    assert results == [42] * 8 and len(calls) == 1


def test_gate_bounds_concurrency_and_times_out():
    gate = AttackGate(limit=2, timeout=5)

    def work(_):
        with gate.slot():
            time.sleep(0.05)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(16)))
    assert gate.peak == 2 and gate.running == 0
    tight = AttackGate(limit=1, timeout=0.05)
    hold = threading.Event()

    def holder():
        with tight.slot():
            hold.wait(2)

    t = threading.Thread(target=holder)
    t.start()
    time.sleep(0.05)
    with pytest.raises(BusyError, match="already running"):
        with tight.slot():
            pass
    hold.set()
    t.join()


@pytest.mark.slow
def test_eight_concurrent_attacks_equal_sequential_ones(model):
    samples = load_samples()[:8]
    cfgs = [AttackConfig(eps=(8 + 2 * i) / 255, steps=8, target="random" if i % 2 else "untargeted")
            for i in range(8)]
    sequential = Lab()
    expected = [sequential.attack(subject(model, s), c, seed=i) for i, (s, c) in enumerate(zip(samples, cfgs))]
    shared = Lab(max_attacks=3)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda a: shared.attack(subject(model, a[1][0]), a[1][1], seed=a[0]),
                            enumerate(zip(samples, cfgs))))
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e.image, g.image)
        np.testing.assert_array_equal(e.prediction.attention, g.prediction.attention)
        assert (e.target, e.success) == (g.target, g.success)
    assert shared.gate.peak <= 3
    assert shared.results.misses == 8
    shared.attack(subject(model, samples[0]), cfgs[0], seed=0)  # cached now
    assert shared.results.misses == 8


def test_saliency_is_the_input_gradient(model):
    s = load_samples()[2]
    got = attribution(model, s.image, 3, 4, "saliency")
    x = torch.from_numpy(s.image).permute(2, 0, 1)[None].requires_grad_(True)
    grad, = torch.autograd.grad(model(x, glances=4).logits[0, 3], x)
    np.testing.assert_allclose(got, grad.abs().sum(dim=1)[0].numpy(), rtol=1e-5, atol=1e-7)
    ig = attribution(model, s.image, 3, 4, "integrated_gradients", ig_steps=16)
    assert ig.shape == (96, 96) and (ig >= 0).all() and not np.allclose(ig, got)
    with pytest.raises(ValueError, match="method"):
        attribution(model, s.image, 3, 4, "gradcam")
    with pytest.raises(ValueError, match="target"):
        attribution(model, s.image, 10, 4)
    with pytest.raises(ValueError, match="ig_steps"):
        attribution(model, s.image, 3, 4, "integrated_gradients", ig_steps=1)


def test_lab_caches_attributions_and_renders_exports(model):
    lab = Lab()
    s = subject(model, load_samples()[0])
    run = lab.attack(s, AttackConfig(eps=16 / 255, steps=5), seed=1)
    a1 = lab.attributions(s, run)
    assert set(a1) == {"saliency/clean", "integrated_gradients/clean", "saliency/adversarial",
                       "integrated_gradients/adversarial"}
    assert lab.attributions(s, run) is a1
    from viz.files import export_metadata, render_exports
    from viz.frames import Display, Shown

    def exports(checkpoint, formats):  # what the page's export view renders from the Lab's results
        shown = Shown(s.image, lab.clean(s), run, s.class_names, s.box)
        meta = export_metadata(shown, checkpoint, s.image_name, "0" * 64, s.glances)
        return render_exports(shown, Display(), meta, formats)
    files = exports({"name": "default", "sha256": "0" * 64}, formats=("gif", "npz"))
    assert set(files) == {"gif", "npz"}
    with pytest.raises(ValueError, match="formats"):
        exports({}, formats=("mp4",))


def test_a_batch_stopped_midway_keeps_the_finished_attacks(model):
    """Streamlit stops a page by raising out of its progress update when a control moves (or Stop
    is pressed); the batch keeps the attacks that had finished, drops the rest, and a later request
    completes from what was kept."""
    lab = Lab()
    subjects = [subject(model, s) for s in load_samples()[:6]]
    cfg = AttackConfig(eps=16 / 255, steps=30, step_size=2 / 255)

    with pytest.raises(Left):
        lab.batch(subjects, cfg, seed=0, progress=leave_at(0.5))
    kept = lab.batch_rows(subjects, cfg, seed=0)
    assert 1 <= sum(r is not None for r in kept) < len(subjects)  # the finished ones stay, the rest do not
    assert all(r.success for r in kept if r is not None)  # finished before the end: reached its goal
    rows = lab.batch(subjects, cfg, seed=0)
    assert [r.name for r in rows] == [s.image_name for s in subjects]
    assert lab.batch_rows(subjects, cfg, seed=0) == rows
    assert [r for r in kept if r is not None] == [r for r, k in zip(rows, kept) if k is not None]


def test_settle_waits_for_a_computation_still_running_in_another_thread():
    """A stopped page run hands over what it finished while the next run has already started: the
    next run settles the key first, so it sees what was kept."""
    cache = ResultCache(8)
    started = threading.Event()

    def slow() -> int:
        started.set()
        time.sleep(0.3)
        cache.put("kept", 1)  # what a stopped run keeps while it unwinds
        raise RuntimeError("stopped")

    worker = threading.Thread(target=lambda: pytest.raises(RuntimeError, cache.get_or_compute, "work", slow))
    worker.start()
    started.wait(5)
    assert cache.get("kept") is None
    cache.settle("work", timeout=5)
    assert cache.get("kept") == 1
    worker.join()
    t = time.perf_counter()
    cache.settle("nothing pending")
    assert time.perf_counter() - t < 0.05
