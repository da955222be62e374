"""Start the app: ``s3ta-lab [streamlit options]`` runs ``streamlit run app.py [options]`` from
anywhere, with the settings of the repository's ``.streamlit/config.toml`` unless given."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

__all__ = ["app_path", "command", "cli"]

# what .streamlit/config.toml says, for runs started outside the repository (Streamlit reads that
# file from the working directory only)
DEFAULTS = {"server.address": "127.0.0.1", "server.headless": "true", "server.maxUploadSize": "200",
            "server.maxMessageSize": "200", "server.fileWatcherType": "none", "browser.gatherUsageStats": "false",
            "client.toolbarMode": "viewer"}


def app_path() -> Path:
    """The installed ``app.py`` (the repository's own in an editable install)."""
    spec = importlib.util.find_spec("app")
    if spec is None or spec.origin is None:
        raise SystemExit("app.py is not installed: pip install -e . from the repository")
    return Path(spec.origin)


def command(args: list[str]) -> list[str]:
    """The ``python -m streamlit run`` command for ``args``: the user's flags win over the defaults."""
    given = {a.split("=", 1)[0].removeprefix("--") for a in args if a.startswith("--")}
    defaults = [f"--{k}={v}" for k, v in DEFAULTS.items() if k not in given]
    return [sys.executable, "-m", "streamlit", "run", str(app_path()), *defaults, *args]


def cli() -> None:
    cmd = command(sys.argv[1:])
    os.execv(cmd[0], cmd)  # the server replaces this process: signals reach it directly


if __name__ == "__main__":
    cli()
