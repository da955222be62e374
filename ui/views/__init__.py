"""The page's views, one module each, run by ``st.navigation`` in ``app.py``. Each module
draws one view of the shared ``Scene`` (``ui.scene.current()``); adding a view is one new file
here and one line below."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ui.links import Field

__all__ = ["View", "VIEWS", "GROUPS", "by_title", "FOLDER"]

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class View:
    """A view: its title (also its name in a link), its module file in this folder, the group it
    is listed under, what it needs before it can draw: "attack" (a run of the sidebar's
    attack), "settings" (valid attack settings) or nothing, and the link fields of its own
    settings (each named as the widget key it sets), which travel in the URL while it is open."""

    title: str
    file: str
    group: str
    needs: str | None = None
    link: tuple[Field, ...] = ()

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
    View("Strength sweep", "sweep.py", "Experiments", needs="settings"),
    View("Belief path", "belief.py", "Experiments"),
    View("Black-box attack", "square.py", "Experiments"),
    View("Adversarial patch", "patch.py", "Experiments", needs="settings",
         link=(Field("patch_size", "int", 2, 512), Field("patch_steps", "int", 10, 1000),
               Field("patch_place", "choice", choices=("searched", "chosen")),
               Field("patch_x", "int", 0, 4096), Field("patch_y", "int", 0, 4096))),
    View("Guided tour", "tour.py", "Learn", link=(Field("tour_step", "int", 1, 5),)),
    View("Export", "export.py", "Files"),
    View("Model", "model_card.py", "Files"),
    View("Gallery", "gallery.py", "Files"),
)
GROUPS = tuple(dict.fromkeys(v.group for v in VIEWS))


def by_title(title: str) -> View:
    return next(v for v in VIEWS if v.title == title)
