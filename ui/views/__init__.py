"""The page's views, one module each, run by ``st.navigation`` in ``app.py``. Each module
draws one view of the shared ``Scene`` (``ui.scene.current()``); adding a view is one new file
here and one line below."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["View", "VIEWS", "GROUPS", "by_title", "FOLDER"]

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class View:
    """A view: its title (also its name in a link), its module file in this folder, the group it
    is listed under, and what it needs before it can draw: "attack" (a run of the sidebar's
    attack), "settings" (valid attack settings) or nothing."""

    title: str
    file: str
    group: str
    needs: str | None = None

    @property
    def path(self) -> Path:
        return FOLDER / self.file

    @property
    def url(self) -> str:
        """Its address under the app's root, e.g. ``/glance-grid``."""
        return self.title.lower().replace(" ", "-")

    @property
    def script(self) -> str:
        """The module's path from the repository root, where ``app.py`` is (``st.Page`` takes it)."""
        return f"ui/views/{self.file}"


VIEWS: tuple[View, ...] = (
    View("Probabilities", "probabilities.py", "This image"),
    View("Attention pull", "pull.py", "This image", needs="attack"),
    View("Perturbation", "perturbation.py", "This image", needs="attack"),
    View("Attack drift", "drift.py", "This image", needs="attack"),
    View("Heads", "heads.py", "This image"),
    View("Attributions", "attributions.py", "This image"),
    View("Compare models", "compare.py", "Experiments", needs="settings"),
    View("Glance grid", "grid.py", "Experiments", needs="settings"),
    View("Race", "race.py", "Experiments", needs="settings"),
    View("Batch", "batch.py", "Experiments", needs="settings"),
    View("Black-box attack", "square.py", "Experiments"),
    View("Export", "export.py", "Files"),
    View("Model", "model_card.py", "Files"),
    View("Gallery", "gallery.py", "Files"),
)
GROUPS = tuple(dict.fromkeys(v.group for v in VIEWS))


def by_title(title: str) -> View:
    return next(v for v in VIEWS if v.title == title)
