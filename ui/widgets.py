"""Small pieces the views share: a throttled progress bar, a guard that turns a failed run into
a message, a Run button that turns into Stop while its work runs, the top-5 list, a thumbnail."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from compute.lab import BusyError
from model.inference import Prediction
from model.records import AttackRun
from viz.figures import image_data_uri
from viz.frames import enlarge, to_uint8

# Streamlit's own header shows a "Stop" while a script runs; ours says what it keeps
STOP = "Stop, keeping what is done"


def progress_bar(text: str, interval: float = 0.1) -> tuple[Any, Callable[[float], None]]:
    """A progress bar and its updater, which redraws at most every ``interval`` seconds (a
    PGD-100 would otherwise send a hundred deltas to the browser) and always at the end."""
    bar = st.progress(0.0, text=f"{text}…")
    last = [0.0]

    def update(fraction: float) -> None:
        now = time.perf_counter()
        if fraction >= 1.0 or now - last[0] >= interval:
            last[0] = now
            bar.progress(min(fraction, 1.0), text=f"{text}… {fraction:.0%}")
    return bar, update


def guarded(what: str, work: Callable[[Callable[[float], None]], Any], stop: str | None = None) -> Any | None:
    """Run ``work(progress)`` under a progress bar; failures become messages and return None.
    A control moved meanwhile stops the run: Streamlit raises out of the next progress update,
    and the computation keeps only what it had finished. With ``stop`` (a widget key) a Stop
    button beside the bar does just that."""
    button = st.empty()
    if stop is not None:
        button.button(STOP, key=stop,
                      help="Stops the run; what it had reached (the attacks or steps finished, the best "
                           "iterate so far) is kept and shown.")
    bar, progress = progress_bar(what)
    try:
        return work(progress)
    except BusyError as exc:
        st.warning(str(exc))
    except ValueError as exc:
        st.error(f"{what} could not run: {exc}")
    except (RuntimeError, MemoryError) as exc:  # e.g. out of memory on a large model
        st.error(f"{what} failed: {exc}. Try fewer steps, restarts or glances.")
    finally:
        bar.empty()
        button.empty()
    return None


def run_or_stop(job: str, label: str, key: str, help: str | None = None) -> bool:
    """A button that starts ``job`` (any key naming the work), or while it runs a Stop button;
    True while it runs. Stop reruns the page, which ends the run at its next progress update: work
    finished and cached before it stays, the step under way is dropped."""
    ss = st.session_state
    if ss.get("_running_job") == job:
        st.button(STOP, key=f"stop_{key}", on_click=lambda: ss.pop("_running_job", None),
                  help="Stops now; what has finished stays on the page and in the cache.")
        return True
    st.button(label, key=f"run_{key}", help=help, on_click=lambda: ss.__setitem__("_running_job", job))
    return False


def job_done(job: str) -> None:
    """``job`` finished or failed: its button starts it again."""
    if st.session_state.get("_running_job") == job:
        del st.session_state["_running_job"]


def top5(pred: Prediction, class_names: list[str], title: str) -> None:
    st.markdown(f"**{title}: {class_names[pred.label]}**")
    for cls, p in pred.top(5):
        st.progress(float(p), text=f"{class_names[cls]}: {p:.1%}")


def outcome_text(run: AttackRun, class_names: list[str]) -> str:
    return f"{'reached' if run.success else 'did not reach'} {run.goal(class_names)}"


def thumbnail(image: np.ndarray) -> str:
    return image_data_uri(enlarge(to_uint8(image), 2))
