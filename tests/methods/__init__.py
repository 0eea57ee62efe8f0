"""Tests of the built-in distillation methods (a package, so test file names may repeat elsewhere)."""
