"""A restricted unpickler for data files whose official format is pickle (CIFAR's python batches).

A pickle may name any importable callable and call it while loading, so a planted file could run
code as the user. This one resolves only the globals that integer numpy arrays, dicts, lists, bytes
and numbers need, checks their arguments, and refuses every other global before it is looked up.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from kdbench.errors import KdbenchError


class _ArrayType:
    """What ``numpy.ndarray`` resolves to: an argument of ``_reconstruct`` that cannot be called."""


def _reconstruct(subtype: object, shape: object, dtype: object) -> np.ndarray:
    """numpy's own ``_reconstruct`` as numpy's pickles call it: a plain, empty ``ndarray`` whose
    state (shape, checked dtype, bytes) comes next."""
    if subtype is not _ArrayType or shape != (0,):
        raise pickle.UnpicklingError(f"refused array reconstruction {subtype!r} {shape!r}")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _dtype(spec: object, align: bool = False, copy: bool = False) -> np.dtype:
    """Integer dtypes only: an object dtype would unpickle arbitrary Python objects. Python 2's
    files (the official ones) name it in bytes, ``b"u1"``."""
    if isinstance(spec, bytes):
        spec = spec.decode("latin1")
    if not isinstance(spec, str) or np.dtype(spec).kind not in "ui":
        raise pickle.UnpicklingError(f"refused numpy dtype {spec!r}")
    return np.dtype(spec, align, copy)


def _frombuffer(buffer: object, dtype: object, shape: object, order: object) -> np.ndarray:
    """What protocol 5 pickles of arrays call; the dtype was already checked by ``_dtype``."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in "ui":
        raise pickle.UnpicklingError(f"refused numpy dtype {dtype!r}")
    if not isinstance(buffer, (bytes, bytearray)) or not isinstance(shape, tuple) or order not in ("C", "F"):
        raise pickle.UnpicklingError(f"refused array reconstruction from {type(buffer).__name__} "
                                     f"{shape!r} {order!r}")
    return np.frombuffer(buffer, dtype).reshape(shape, order="F" if order == "F" else "C")


def _encode(text: object, encoding: str = "latin1") -> bytes:
    """How Python 3 writes ``bytes`` in protocol 2: ``_codecs.encode(str, "latin1")``."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


ALLOWED: dict[tuple[str, str], object] = {
    ("numpy", "ndarray"): _ArrayType,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # numpy 1 (the official files)
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # numpy 2
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,
}


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global that data files never need."""


class DataUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the globals in ``ALLOWED``."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}") from None


def load_data_pickle(path: Path) -> object:
    """The object pickled in ``path`` (byte strings stay bytes, as in Python 2's files).

    A refused global or a file that is not a pickle is a one-line ``KdbenchError`` naming the file.
    """
    try:
        with path.open("rb") as handle:
            return DataUnpickler(handle, encoding="bytes").load()
    except RefusedGlobal as error:
        raise KdbenchError(f"{path}: refused to unpickle the global {error} (a data file holds only "
                           "arrays, lists, bytes and numbers; a pickle that names others may run "
                           "code)") from None
    except Exception as error:  # a truncated or foreign file fails in many ways
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise KdbenchError(f"{path}: not a readable data pickle ({reason})") from None
