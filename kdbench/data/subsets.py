"""Fixed subsets of a split: N examples per class (stratified) or a fraction, chosen with a seed.

The same (labels, subset) always gives the same indices, so a teacher trained on 200 images and a
student distilled on "everything else" (``complement``) see exactly complementary data.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kdbench.errors import KdbenchError
from kdbench.specs import Subset


def subset_indices(labels: Tensor, subset: Subset) -> Tensor:
    """Sorted indices into ``labels`` that ``subset`` selects."""
    labels = labels.cpu()
    generator = torch.Generator().manual_seed(subset.seed)
    order = torch.randperm(len(labels), generator=generator)
    if subset.fraction is not None:
        chosen = order[:round(subset.fraction * len(labels))]
    else:
        per_class = subset.per_class
        assert per_class is not None  # a Subset has exactly one of fraction and per_class
        shuffled = labels[order]
        picks = []
        for label in labels.unique().tolist():
            members = order[shuffled == label]
            if len(members) < per_class:
                raise KdbenchError(f"subset asks for {per_class} examples of class {label}, "
                                   f"but the split has only {len(members)}")
            picks.append(members[:per_class])
        chosen = torch.cat(picks)
    if subset.complement:
        mask = torch.ones(len(labels), dtype=torch.bool)
        mask[chosen] = False
        return mask.nonzero().flatten()
    return chosen.sort().values
