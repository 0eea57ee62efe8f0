"""Methods whose ``MethodInfo`` needs a teacher refuse to be built without one, in one line."""

from __future__ import annotations

import pytest
from torch import nn

from kdbench.methods.crd import CRD, CRDParams
from kdbench.methods.hint import Hint, HintParams


@pytest.mark.parametrize(("method", "params", "name"), [(Hint, HintParams, "hint"), (CRD, CRDParams, "crd")])
def test_a_method_that_needs_a_teacher_refuses_none(method: type, params: type, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} needs a teacher$"):
        method(nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), None, params())
