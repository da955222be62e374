"""S3TA Lab model package: the S3TA attention classifier, its baseline, data, attacks, training.

>>> from model import load_model
>>> model = load_model()            # the shipped default checkpoint, eval mode
>>> out = model(images, glances=8)  # images (B, 3, H, W) in [0, 1]
>>> out.logits, out.step_logits, out.attention
"""

from .attacks import AttackConfig, AttackResult, pgd, random_targets
from .backbone import (
                         BackboneWeightsError,
                         ResNet,
                         build_backbone,
                         load_backbone_weights,
)
from .baseline import BaselineResNet
from .checkpoint import (
                         DEFAULT_CHECKPOINT,
                         CheckpointError,
                         load_checkpoint,
                         load_model,
                         read_metadata,
                         save_checkpoint,
)
from .config import ModelConfig
from .factory import build_model
from .output import ModelOutput
from .s3ta import S3TA
from .spatial_basis import fourier_basis
from .square import SquareConfig, SquareResult, square_attack

__all__ = ["AttackConfig", "AttackResult", "pgd", "random_targets", "BackboneWeightsError", "ResNet",
           "build_backbone", "load_backbone_weights", "BaselineResNet", "DEFAULT_CHECKPOINT",
           "CheckpointError", "load_checkpoint", "load_model", "read_metadata", "save_checkpoint",
           "ModelConfig", "build_model", "ModelOutput", "S3TA", "fourier_basis",
           "SquareConfig", "SquareResult", "square_attack"]
