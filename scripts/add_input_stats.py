"""Add ``input_stats`` (training-image statistics) to the metadata of checkpoints trained on
Cluttered Fashion-MNIST before the trainer recorded them; the weights are rewritten unchanged.

    python -m scripts.add_input_stats assets/*.safetensors
"""

from __future__ import annotations

import sys

from model.checkpoint import load_checkpoint, save_checkpoint
from model.data import ClutteredFashionMNIST
from programs.train.data import training_input_stats


def main(paths: list[str]) -> None:
    stats = training_input_stats(ClutteredFashionMNIST("train", seed=0))
    for path in paths:
        model, meta, extra = load_checkpoint(path)
        meta["input_stats"] = stats
        save_checkpoint(model, path, meta, extra)
        print(path, stats)


if __name__ == "__main__":
    main(sys.argv[1:])
