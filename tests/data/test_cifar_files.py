"""CIFAR-10 and CIFAR-100 read from tiny pickles in the official format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kdbench.errors import DataNotFoundError


@pytest.mark.parametrize("variant, classes", [("cifar10", 10), ("cifar100", 100)])
def test_reads_both_splits_in_order(tmp_path, load, write_cifar, variant, classes):
    written = write_cifar(tmp_path, variant)
    for split in ("train", "test"):
        images, labels = written[split]
        data = load(variant, split, tmp_path)
        assert data.images.dtype == torch.uint8 and data.labels.dtype == torch.int64
        assert tuple(data.images.shape) == (len(labels), 3, 32, 32)
        assert data.labels.tolist() == labels.tolist()
        assert torch.equal(data.images, torch.from_numpy(images))
        assert data.num_classes == classes and len(data.mean) == len(data.std) == 3
        assert (data.in_channels, data.image_size) == (3, 32)


def test_pixels_keep_channel_row_and_column(tmp_path, load, write_cifar):
    write_cifar(tmp_path, "cifar10", per_file=2)
    data = load("cifar10", "train", tmp_path)
    assert len(data) == 10
    assert data.images[:, 1, 5, 7].tolist() == list(range(10))
    assert data.images[:, 0, 0, 31].tolist() == [255] * 10
    assert int(data.images.sum()) == 255 * 10 + sum(range(10))


def test_each_file_is_parsed_once(tmp_path, load, write_cifar):
    write_cifar(tmp_path)
    first, second = load("cifar10", "test", tmp_path), load("cifar10", "test", tmp_path)
    assert first.images.data_ptr() == second.images.data_ptr()


def test_missing_files_name_the_searched_folder(tmp_path, load, write_cifar):
    with pytest.raises(DataNotFoundError) as caught:
        load("cifar100", "train", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "cifar-100-python") in message
    assert message.startswith("cifar100:") and "--download" in message

    write_cifar(tmp_path, "cifar10")
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataNotFoundError, match="data_batch_3"):
        load("cifar10", "train", tmp_path)
    assert np.asarray(load("cifar10", "test", tmp_path).labels).shape == (4,)
