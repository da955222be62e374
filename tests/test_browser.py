"""The app in a real browser (Debian's Chromium driven by Playwright): upload, sliders, attack,
animation, download. Skipped only where no Chromium is installed (the setup installs it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                                   reason="Chromium not installed (apt-get install chromium)")]
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + proc.stderr.read().decode()[-2000:])
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                   headless=True, args=ARGS, accept_downloads=True,
                                                   viewport={"width": 1400, "height": 1000})
        yield ctx.new_page()
        ctx.close()


def wait_idle(page, timeout: float = 60_000) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)


def move_slider(page, label: str, presses: int) -> None:
    slider = page.locator(f'input[type=range][aria-label="{label}"]')
    slider.focus()
    for _ in range(abs(presses)):
        slider.press("ArrowRight" if presses > 0 else "ArrowLeft")
    wait_idle(page)


def test_upload_attack_play_and_download(server, page, tmp_path):
    upload = tmp_path / "shoe.png"
    sample = sorted((ROOT / "assets" / "samples").glob("*.png"))[0]
    with Image.open(sample) as im:  # a larger copy, so the app has something to resize
        im.convert("RGB").resize((192, 192)).save(upload)

    page.goto(server)
    page.get_by_text("S3TA Lab", exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_text("Upload", exact=True).click()
    wait_idle(page)
    page.get_by_test_id("stFileUploader").first.locator("input[type='file']").set_input_files(str(upload))
    wait_idle(page)
    page.get_by_text("letterbox from 192x192 to 96x96").wait_for(timeout=30_000)

    move_slider(page, "Glances", 2)   # 4 -> 6
    move_slider(page, "Epsilon (/255)", -8)  # 32 -> 24
    page.get_by_text("Glances").first.wait_for()
    page.get_by_role("button", name="Run attack").click()
    wait_idle(page)
    page.get_by_text("Adversarial:").first.wait_for(timeout=60_000)
    page.get_by_text("The attack ").first.wait_for()

    chart = page.locator(".js-plotly-plot").first
    chart.wait_for(timeout=30_000)
    page.wait_for_timeout(2500)  # plotly draws after the text
    frames = page.evaluate("() => document.querySelector('.js-plotly-plot')._transitionData._frames.length")
    assert frames == 6  # one frame per glance
    before = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.sliders[0].active")
    chart.locator(".updatemenu-button", has_text="Play").click()
    page.wait_for_timeout(1500)
    after = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.sliders[0].active")
    assert before == 0 and after > before

    page.get_by_test_id("stTopNavSection").filter(has_text="Files").click()
    page.get_by_test_id("stTopNavDropdownLink").filter(has_text="Export").click()
    wait_idle(page)
    page.get_by_role("button", name="Prepare exports").click()
    wait_idle(page)
    button = page.get_by_role("button", name="GIF").first
    button.wait_for(timeout=30_000)
    with page.expect_download() as info:
        button.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".gif"
    with Image.open(path) as gif:
        assert gif.n_frames == 6

    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(int(height), 6000)})
    page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
    assert (tmp_path / "app.png").stat().st_size > 10_000
    if os.environ.get("S3TA_SCREENSHOT"):  # keep a copy to look at
        shutil.copy(tmp_path / "app.png", os.environ["S3TA_SCREENSHOT"])


def test_a_shared_link_shows_the_same_attack(server, page):
    """Run an attack, take the address bar as a colleague would, open it in another tab: the same
    model, image, settings, prediction and attack outcome."""
    page.goto(server + "/?sample=test_0006.png&seed=7&eps=24")
    page.get_by_text("S3TA Lab", exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_role("button", name="Run attack").click()
    wait_idle(page)
    page.get_by_text("Adversarial:").first.wait_for(timeout=60_000)

    def seen(p) -> tuple[str, str]:
        main = p.locator("[data-testid=stMain]")
        adversarial = main.locator("[data-testid=stMarkdownContainer]").filter(has_text="Adversarial:").first
        outcome = main.locator("[data-testid=stCaptionContainer]").filter(has_text="The attack ").first
        return adversarial.inner_text(), outcome.inner_text().split(" in ")[0]  # the time may differ

    first = seen(page)
    page.wait_for_function("() => window.location.search.includes('attack=1')", timeout=30_000)
    link = page.url
    assert "sample=test_0006.png" in link and "seed=7" in link and "eps=24" in link
    other = page.context.new_page()
    other.goto(link)
    other.get_by_text("Adversarial:").first.wait_for(timeout=60_000)
    wait_idle(other)
    assert seen(other) == first
    other.close()


def test_the_guided_tour_from_first_step_to_last(server, page):
    """A learner opens the tour, reads each step, runs its live examples and ends on the links to
    the views that go further; the address bar keeps the step."""
    main = page.locator("[data-testid=stMain]")

    def step(n: int, example: str | None = None) -> None:
        if n > 1:
            page.get_by_role("button", name="Next").click()
        page.get_by_text(f"Step {n} of 5").wait_for(timeout=60_000)
        wait_idle(page)
        if example is not None:
            page.get_by_role("button", name="Run this example").click()
            main.get_by_text(example).first.wait_for(timeout=120_000)
            wait_idle(page)

    page.goto(server + "/?tab=Guided%20tour")
    step(1)
    main.get_by_text("glance 1:").first.wait_for(timeout=30_000)
    assert "clean accuracy" in main.inner_text()
    step(2, "baseline_default: predicts")
    step(3)
    assert main.locator(".js-plotly-plot").count() >= 1 and "s3ta_cued" in main.inner_text()
    step(4, "the last glance's attention on the item")
    step(5)
    assert main.get_by_role("link", name="Glance grid").count() == 1
    assert main.get_by_role("button", name="Next").count() == 0
    page.wait_for_function("() => window.location.search.includes('tour_step=5')", timeout=30_000)


def test_stop_keeps_the_black_box_attacks_best_iterate(server, page):
    """Stop, pressed while Square Attack runs, interrupts it in the browser as any control does:
    the page comes back with the best iterate so far, marked as stopped."""
    page.goto(server + "/?tab=Black-box%20attack&bb_eps=1&bb_queries=10000")
    run = page.get_by_role("button", name="Run Square Attack (10,000 queries)")
    run.wait_for(timeout=60_000)
    wait_idle(page)
    run.click()
    stop = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop, keeping what is done")
    stop.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    stop.click()
    page.get_by_text("Stopped after").wait_for(timeout=60_000)
    used = page.get_by_test_id("stMetric").filter(has_text="Queries used").inner_text()
    done = int(used.split()[2].replace(",", ""))
    assert 1 <= done < 10_000 and "of 10,000" in used
    wait_idle(page)
    assert page.get_by_role("button", name="Run Square Attack again from the start (10,000 queries)").is_visible()
