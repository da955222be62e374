"""Train S3TA or the baseline, clean or adversarially, on one process or many (DDP).

One process (CPU or one GPU)::

    python -m programs.train --config configs/s3ta_clean.json --out runs/s3ta_clean

Many processes, one per GPU (or CPU processes with gloo)::

    torchrun --standalone --nproc_per_node=4 -m programs.train --config configs/s3ta_clean.json --out runs/x

Modules: ``config`` (the recipe, validated), ``data`` (data sets of a recipe), ``loop`` (one
epoch, validation), ``cli`` (arguments, set-up, checkpoints).
"""

from .cli import get_args_parser, main
from .config import AdvConfig, TrainConfig
from .loop import adversarial_batch, evaluate, glance_loss, train_one_epoch

__all__ = ["get_args_parser", "main", "AdvConfig", "TrainConfig", "adversarial_batch", "evaluate",
           "glance_loss", "train_one_epoch"]
