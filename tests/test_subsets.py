"""Fixed subsets and the training data of teachers and students."""

from __future__ import annotations

import pytest
import torch

from kdbench.data.source import DataSource
from kdbench.data.subsets import subset_indices
from kdbench.errors import KdbenchError
from kdbench.specs import DataRef, Ref, Subset


def test_per_class_subset_is_stratified_fixed_and_complementary() -> None:
    labels = torch.arange(100) % 4
    chosen = subset_indices(labels, Subset(per_class=5, seed=3))
    assert labels[chosen].bincount().tolist() == [5, 5, 5, 5]
    assert torch.equal(chosen, subset_indices(labels, Subset(per_class=5, seed=3)))
    assert not torch.equal(chosen, subset_indices(labels, Subset(per_class=5, seed=4)))
    rest = subset_indices(labels, Subset(per_class=5, seed=3, complement=True))
    assert len(rest) == 80 and not set(rest.tolist()) & set(chosen.tolist())


def test_fraction_and_too_few_examples() -> None:
    labels = torch.arange(10) % 2
    assert len(subset_indices(labels, Subset(fraction=0.3))) == 3
    with pytest.raises(KdbenchError, match="asks for 6 examples of class 0"):
        subset_indices(labels, Subset(per_class=6))


def test_subset_needs_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match="exactly one of per_class and fraction"):
        Subset(per_class=2, fraction=0.5)


def test_training_data_subsets_hides_labels_and_takes_evaluation_normalization(pm, tmp_path) -> None:
    source = DataSource(pm, tmp_path)
    evaluated_on = Ref(name="mnist-5k")
    teacher = source.training(DataRef(name="mnist-5k", subset=Subset(per_class=20)), evaluated_on)
    assert len(teacher) == 200 and teacher.labels.bincount().tolist() == [20] * 10
    rest = source.training(DataRef(name="mnist-5k", subset=Subset(per_class=20, complement=True),
                                   labels=False), evaluated_on)
    assert len(rest) == 3800 and not bool(rest.label_mask.any()) and bool(teacher.label_mask.all())
    digits = source.training(DataRef(name="digits"), evaluated_on)
    assert digits.mean == source.evaluation(evaluated_on).mean
