"""CIFAR pickles are read without running code: planted payloads, foreign dtypes and shapes are
refused in one line naming the file, and copies that are not the official files are a warning."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from files import write_pickle
from test_data_track import run

from kdbench.data import cifar
from kdbench.errors import KdbenchError


class Payload:
    """Unpickling this runs ``touch <marker>`` through ``os.system``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Python2Pickler(pickle._Pickler):
    """Writes ``str`` and ``bytes`` as Python 2 strings and numpy 1's module names, as the official
    CIFAR files (pickled by Python 2) are written."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_python2_str(self, obj: str | bytes) -> None:
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str
    dispatch[str] = save_python2_str


def python2_pickle(entry: object) -> bytes:
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(entry)
    return buffer.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def plant(path: Path, entry: object) -> None:
    path.write_bytes(pickle.dumps(entry, protocol=2))


def test_a_pickle_that_runs_code_is_refused_before_it_runs(tmp_path, load, write_cifar) -> None:
    write_cifar(tmp_path)
    marker = tmp_path / "marker"
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    plant(batch, {b"data": Payload(marker), b"labels": [0]})
    with pytest.raises(KdbenchError) as caught:
        load("cifar10", "train", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and str(batch) in message and "system" in message
    assert not marker.exists()


def test_the_cli_refuses_it_in_one_line_before_anything_trains(tmp_path, write_cifar, capsys) -> None:
    write_cifar(tmp_path / "data")
    marker = tmp_path / "marker"
    plant(tmp_path / "data" / "cifar-10-batches-py" / "test_batch", [Payload(marker)])
    assert run(tmp_path, tmp_path / "data") == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("kdbench: error:")]
    assert len(errors) == 1 and "test_batch" in errors[0] and "Traceback" not in err
    assert not marker.exists() and not list((tmp_path / "results").rglob("*.json"))
    assert not (tmp_path / "cache" / "teachers").exists()


@pytest.mark.parametrize("data, problem", [
    (np.zeros((2, 3072), dtype=np.float32), "refused numpy dtype 'f4'"),
    (np.zeros((2, 3072), dtype=np.int64), "N x 3072 uint8"),
    (np.zeros((2, 1024), dtype=np.uint8), "N x 3072 uint8"),
    (np.zeros(3072, dtype=np.uint8), "N x 3072 uint8"),
    ([0] * 3072, "N x 3072 uint8"),
    (np.array([None, 1], dtype=object), "refused numpy dtype"),
])
def test_data_that_is_not_n_by_3072_uint8_is_refused(tmp_path, load, write_cifar, data, problem) -> None:
    write_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    plant(batch, {b"data": data, b"labels": [0, 1]})
    with pytest.raises(KdbenchError, match=problem) as caught:
        load("cifar10", "test", tmp_path)
    assert str(batch) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("labels", [[0, 10], [0], ["a", "b"], np.array([[0, 1]]), [-1, 0]])
def test_labels_must_be_one_class_per_image(tmp_path, load, write_cifar, labels) -> None:
    write_cifar(tmp_path)
    plant(tmp_path / "cifar-10-batches-py" / "test_batch",
          {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": labels})
    with pytest.raises(KdbenchError, match=r"test_batch: 'labels' must be 2 integers in 0\.\.9"):
        load("cifar10", "test", tmp_path)


@pytest.mark.parametrize("content", [b"", b"\x80\x02garbage", b"not a pickle at all"])
def test_a_file_that_is_not_a_pickle_is_one_line(tmp_path, load, write_cifar, content) -> None:
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(content)
    with pytest.raises(KdbenchError, match="test_batch: not a readable data pickle") as caught:
        load("cifar10", "test", tmp_path)
    assert "\n" not in str(caught.value)


def test_python_2_pickles_like_the_official_files_load(tmp_path, load, write_cifar) -> None:
    written = write_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    for name, first in (("data_batch_1", 0), ("data_batch_2", 4)):
        images, labels = written["train"][0][first:first + 4], written["train"][1][first:first + 4]
        entry = {"batch_label": "training batch", "labels": labels.tolist(),
                 "data": images.reshape(4, -1), "filenames": [f"{i}.png" for i in range(4)]}
        (folder / name).write_bytes(python2_pickle(entry))
    assert b"numpy.core.multiarray\n_reconstruct" in (folder / "data_batch_1").read_bytes()
    data = load("cifar10", "train", tmp_path)
    assert data.images.numpy().tobytes() == written["train"][0].tobytes()
    assert data.labels.tolist() == written["train"][1].tolist()


def test_numpy_2_protocol_5_copies_still_load(tmp_path, load, write_cifar) -> None:
    written = write_cifar(tmp_path, "cifar100")
    images, labels = written["test"]
    entry = {"data": images.reshape(len(images), -1), "fine_labels": np.asarray(labels, dtype=np.int64)}
    (tmp_path / "cifar-100-python" / "test").write_bytes(pickle.dumps(entry, protocol=5))
    data = load("cifar100", "test", tmp_path)
    assert data.labels.tolist() == labels.tolist() and data.images.numpy().tobytes() == images.tobytes()


def test_a_copy_that_is_not_the_official_file_is_a_warning(tmp_path, load, write_cifar, caplog,
                                                             monkeypatch) -> None:
    write_cifar(tmp_path, per_file=3)
    folder = tmp_path / "cifar-10-batches-py"
    official = hashlib.md5((folder / "data_batch_2").read_bytes()).hexdigest()
    monkeypatch.setitem(cifar.CIFAR10.md5, "data_batch_2", official)
    with caplog.at_level(logging.WARNING, logger="kdbench"):
        assert len(load("cifar10", "train", tmp_path)) == 15
    warned = [r.getMessage() for r in caplog.records if "md5" in r.getMessage()]
    assert len(warned) == 4 and not any("data_batch_2" in line for line in warned)
    assert all("\n" not in line for line in warned)
    assert any(str(folder / "data_batch_1") in line and cifar.CIFAR10.md5["data_batch_1"] in line
               for line in warned)


def test_write_pickle_helper_matches_the_real_layout(tmp_path) -> None:
    path = tmp_path / "batch"
    write_pickle(path, np.ones((1, 3, 32, 32), dtype=np.uint8), b"labels", [3])
    images, labels = cifar.read_batch(path, b"labels", 10)
    assert images.shape == (1, 3, 32, 32) and labels.tolist() == [3]


@pytest.mark.parametrize("payload", [
    b"\x80\x02cnumpy\nndarray\nK\x05\x85R.",  # numpy.ndarray((5,)): a constructor call, not a type
    b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncbuiltins\nlist\nK\x00\x85C\x01b\x87R.",
    b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\xca\x9a;\x85C\x01b\x87R.",
])
def test_numpy_globals_are_only_used_as_numpy_pickles_use_them(tmp_path, load, write_cifar,
                                                               payload) -> None:
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(payload)
    with pytest.raises(KdbenchError, match="test_batch: (not a readable|refused)"):
        load("cifar10", "test", tmp_path)
