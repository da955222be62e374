"""The named sets of test canvases: the development canvases every decision was made on, and a
final set kept for reporting once.

A canvas is a pure function of (split, index, seed), and its labelled item is the Fashion-MNIST
image ``index % 10000`` of the split. Every number in the project up to the final set was measured
on test canvases at seed 0 with indices below 8000: 0..1999 (the floors, grids and findings),
2000..3999 (the out-of-domain score's calibration), 5000..5499 (the default attack's step size),
and on the validation canvases training scores after each epoch (seed
``programs.seeds.VALIDATION_SEED``, indices 0..val_size-1). The final set takes the other
Fashion-MNIST test images, 8000..9999, at a seed of its own, so no final canvas shares its
labelled item with a development or validation canvas (validation sets up to 8000 canvases) nor
its random draws with any canvas rendered before; training only ever draws from the train
split. Decisions (settings, stopping, which model to ship) are made on the development canvases;
the final ones are read to report.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CanvasSet", "DEVELOPMENT", "FINAL", "CANVAS_SETS", "canvas_set"]


@dataclass(frozen=True)
class CanvasSet:
    """Test canvases ``start``..``stop - 1`` (indices of the test split) rendered at ``seed``."""

    name: str
    start: int
    stop: int
    seed: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    def indices(self, n: int, first: int = 0) -> range:
        """Canvas indices of this set's ``first``..``first + n - 1``-th canvases."""
        if not (isinstance(n, int) and n >= 1 and isinstance(first, int) and first >= 0):
            raise ValueError(f"n must be an integer >= 1 and first >= 0, got n={n!r}, first={first!r}")
        if first + n > self.size:
            raise ValueError(f"the {self.name} canvases hold {self.size} canvases; asked for {first}..{first + n - 1}")
        return range(self.start + first, self.start + first + n)


DEVELOPMENT = CanvasSet("development", 0, 8000, 0)
FINAL = CanvasSet("final", 8000, 10000, 1912)  # seed: the paper's arXiv month (1912.02184)
CANVAS_SETS = {s.name: s for s in (DEVELOPMENT, FINAL)}


def canvas_set(name: str) -> CanvasSet:
    """The named set, or a ValueError listing the names there are."""
    if name not in CANVAS_SETS:
        raise ValueError(f"unknown canvas set {name!r}; one of {sorted(CANVAS_SETS)}")
    return CANVAS_SETS[name]
