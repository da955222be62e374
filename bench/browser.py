"""Shared by the browser benches: a Streamlit server for app.py on a free local port, and
Debian's Chromium driven by Playwright (never `playwright install`; ../shared/BROWSER.md)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


@contextlib.contextmanager
def serve(inference_form: bool = True, env: dict[str, str] | None = None) -> Iterator[str]:
    """``streamlit run app.py`` on 127.0.0.1 and a free port; yields its URL once healthy."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "S3TA_INFERENCE_FORM": "1" if inference_form else "0", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def launch(p: Any) -> Any:
    """A persistent Chromium context (sync Playwright) in a fresh profile folder."""
    return p.chromium.launch_persistent_context(tempfile.mkdtemp(prefix="s3ta-bench-"), executable_path=CHROMIUM,
                                                headless=True, viewport={"width": 1400, "height": 1000}, args=ARGS)
