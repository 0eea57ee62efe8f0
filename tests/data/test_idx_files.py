"""The MNIST family read from tiny IDX files, plain and gzipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
import torchvision.datasets
from files import write_idx  # tests/data is on sys.path (conftest.py)

from kdbench.data import idx
from kdbench.errors import DataNotFoundError


def digit_images(n: int) -> np.ndarray:
    """``n`` images where image i has a bright pixel at row 3, column 20 + i."""
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[np.arange(n), 3, 20 + np.arange(n)] = 255
    return images


def write_mnist(folder: Path, prefix: str = "", gz: bool = False, labels_dtype=np.uint8) -> None:
    for split, n in (("train", 3), ("t10k", 2)):
        write_idx(folder / f"{prefix}{split}-images-idx3-ubyte", digit_images(n), gz)
        write_idx(folder / f"{prefix}{split}-labels-idx1-ubyte", np.arange(1, n + 1, dtype=labels_dtype), gz)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_shapes_labels_and_orientation(tmp_path, load, gz):
    write_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    train, test = load("mnist", "train", tmp_path), load("mnist", "test", tmp_path)
    assert tuple(train.images.shape) == (3, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and train.labels.tolist() == [1, 2, 3]
    assert test.labels.tolist() == [1, 2] and train.num_classes == 10
    assert [int(train.images[i, 0, 3, 20 + i]) for i in range(3)] == [255] * 3
    assert int(train.images.sum()) == 3 * 255
    assert (train.in_channels, train.image_size, train.mean, train.std) == (1, 28, (0.1307,), (0.3081,))


def test_wider_label_types_are_read(tmp_path, load):
    write_mnist(tmp_path / "MNIST" / "raw", labels_dtype=np.int32)
    assert load("mnist", "train", tmp_path).labels.tolist() == [1, 2, 3]


def test_fashion_mnist_in_torchvision_and_debian_layouts(tmp_path, load):
    write_mnist(tmp_path / "FashionMNIST" / "raw")
    assert load("fashion-mnist", "train", tmp_path).labels.tolist() == [1, 2, 3]
    debian = idx.FASHION_MNIST.system_dirs[0]  # the tests' stand-in for /usr/share/datasets/...
    write_mnist(debian, gz=True)
    data = load("fashion-mnist", "test", tmp_path / "empty")
    assert tuple(data.images.shape) == (2, 1, 28, 28) and data.labels.tolist() == [1, 2]


@pytest.mark.parametrize("split, classes, first_label", [
    ("byclass", 62, 0), ("balanced", 47, 0), ("letters", 26, 1), ("digits", 10, 0)])
def test_emnist_is_transposed_back_and_letters_start_at_zero(tmp_path, load, split, classes, first_label):
    raw = tmp_path / "EMNIST" / "raw"
    for part, n in (("train", 3), ("test", 2)):
        write_idx(raw / f"emnist-{split}-{part}-images-idx3-ubyte", digit_images(n).transpose(0, 2, 1).copy(),
                  gz=part == "test")
        write_idx(raw / f"emnist-{split}-{part}-labels-idx1-ubyte",
                  np.arange(first_label, first_label + n, dtype=np.uint8))
    for part, n in (("train", 3), ("test", 2)):
        data = load("emnist", part, tmp_path, params={"split": split, "orientation": "upright"})
        assert data.num_classes == classes and data.labels.tolist() == list(range(n))
        assert [int(data.images[i, 0, 3, 20 + i]) for i in range(n)] == [255] * n


def test_emnist_defaults_to_byclass_and_rejects_other_splits(tmp_path, load):
    assert idx.EMNISTParams().split == "byclass"
    with pytest.raises(pydantic.ValidationError):
        idx.EMNISTParams(split="bymerge")
    with pytest.raises(DataNotFoundError, match="emnist-byclass-train-images-idx3-ubyte"):
        load("emnist", "train", tmp_path)


def test_missing_files_name_every_searched_folder(tmp_path, load):
    with pytest.raises(DataNotFoundError) as caught:
        load("fashion-mnist", "train", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "--download" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert str(idx.FASHION_MNIST.system_dirs[0]) in message


def test_bad_magic_number_is_reported():
    with pytest.raises(ValueError, match="magic"):
        idx.parse_idx(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")


def test_download_uses_torchvision_and_reports_failure(tmp_path, load, monkeypatch):
    calls = []

    class FakeMNIST:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            write_mnist(Path(root) / "MNIST" / "raw", gz=True)

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    assert load("mnist", "test", tmp_path, download=True).labels.tolist() == [1, 2]
    assert calls == [(str(tmp_path), False, True)]

    class Offline:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried a mirror")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Offline)
    with pytest.raises(DataNotFoundError) as caught:
        load("fashion-mnist", "train", tmp_path, download=True)
    assert "\n" not in str(caught.value) and "download failed" in str(caught.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in str(caught.value)
