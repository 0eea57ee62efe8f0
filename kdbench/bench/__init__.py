"""``kdbench bench``: images per second of the engine's own distillation step, in steady state."""

from kdbench.bench.run import BenchResult, BenchSettings, bench

__all__ = ["BenchResult", "BenchSettings", "bench"]
