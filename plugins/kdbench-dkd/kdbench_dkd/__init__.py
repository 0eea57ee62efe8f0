"""Decoupled Knowledge Distillation (Zhao et al., CVPR 2022) as a kdbench method plugin."""

from kdbench_dkd.dkd import DKD, DKDParams, dkd_terms, warmup_factor

__all__ = ["DKD", "DKDParams", "dkd_terms", "warmup_factor"]
