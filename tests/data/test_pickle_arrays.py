"""Protocol-5 array reconstruction takes only bytes, a shape tuple and a C or F order."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from kdbench.data.pickles import _frombuffer


def test_bytes_become_an_array_of_the_shape_and_order() -> None:
    array = _frombuffer(bytes(range(6)), np.dtype("uint8"), (2, 3), "F")
    assert array.tolist() == [[0, 2, 4], [1, 3, 5]]


@pytest.mark.parametrize(("buffer", "shape", "order"), [
    ("abcdef", (2, 3), "C"), (bytes(6), [2, 3], "C"), (bytes(6), (2, 3), "K"),
])
def test_anything_else_is_refused(buffer: object, shape: object, order: object) -> None:
    with pytest.raises(pickle.UnpicklingError, match="refused array reconstruction"):
        _frombuffer(buffer, np.dtype("uint8"), shape, order)
