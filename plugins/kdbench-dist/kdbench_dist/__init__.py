"""DIST (Huang et al., NeurIPS 2022) as a kdbench method plugin."""

from kdbench_dist.dist import DIST, DISTParams, dist_terms, pearson

__all__ = ["DIST", "DISTParams", "dist_terms", "pearson"]
