"""Logit standardization (Sun et al., CVPR 2024) as a kdbench method plugin."""

from kdbench_lskd.lskd import LSKD, LSKDParams, zscore

__all__ = ["LSKD", "LSKDParams", "zscore"]
