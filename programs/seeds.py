"""Named seed formulas, so training, evaluation and their resumes draw the same numbers.

Each formula mixes a run's base seed with a position (step, batch, rank) through distinct
primes, so no two positions of one run share a stream and the same position always gets one.
"""

from __future__ import annotations

__all__ = ["VALIDATION_SEED", "glance_count_seed", "train_attack_seed", "train_noise_seed", "epoch_seed",
           "eval_attack_seed"]

VALIDATION_SEED = 1_000_003  # the canvases scored after each epoch: never the training ones
_STEP = 1_000_003  # stride between runs' per-step streams
_BATCH = 7919  # stride between evaluation batches' attack streams


def glance_count_seed(seed: int, step: int) -> int:
    """The glance count of an optimizer step: the same on every rank and micro-batch."""
    return seed * _STEP + step


def train_attack_seed(seed: int, step: int, rank: int, micro: int) -> int:
    """The adversarial examples of one micro-batch of one rank at one step."""
    return seed * _STEP + step * 97 + rank + micro * _BATCH


def train_noise_seed(seed: int, step: int, rank: int, micro: int) -> int:
    """The noise added to one micro-batch of one rank at one step (``train.noise_eps``)."""
    return seed * _STEP + step * 101 + rank + micro * _BATCH + 1


def epoch_seed(seed: int, epoch: int) -> int:
    """The data order and the fresh canvases / crops of an epoch (``--resume`` redraws them)."""
    return seed * 1000 + epoch


def eval_attack_seed(seed: int, batch: int, offset: int = 0) -> int:
    """The attack on evaluation batch ``batch`` (global index, so torchrun ranks agree);
    ``offset`` separates several attacks on one batch."""
    return seed * _BATCH + batch + offset
