"""Input scaling (``normalize: standard | unitcube``) and EMNIST's orientation (``torchvision |
upright``), checked on tiny files in the real formats against torchvision's own readers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.datasets
from files import write_idx, write_mnist  # tests/data is on sys.path (conftest.py)

from kdbench.cli import main
from kdbench.data.normalization import statistics


def write_emnist(root, images: np.ndarray) -> None:
    """``images`` as EMNIST byclass train and test IDX files, stored as given."""
    for part in ("train", "test"):
        raw = root / "EMNIST" / "raw"
        write_idx(raw / f"emnist-byclass-{part}-images-idx3-ubyte", images)
        write_idx(raw / f"emnist-byclass-{part}-labels-idx1-ubyte",
                  np.arange(len(images), dtype=np.uint8))


def asymmetric_images() -> np.ndarray:
    """Two images whose one bright pixel lies off the diagonal, so a transpose moves it."""
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    images[0, 3, 20] = images[1, 5, 21] = 255
    return images


def test_emnist_defaults_to_the_orientation_torchvision_loads(tmp_path, load) -> None:
    write_emnist(tmp_path, asymmetric_images())
    reference = torchvision.datasets.EMNIST(str(tmp_path), split="byclass", train=True).data
    default = load("emnist", "train", tmp_path)
    assert torch.equal(default.images[:, 0], reference)
    upright = load("emnist", "train", tmp_path, params={"orientation": "upright"})
    assert torch.equal(upright.images[:, 0], reference.transpose(1, 2))
    assert int(upright.images[0, 0, 20, 3]) == 255 and int(default.images[0, 0, 3, 20]) == 255


def first_batch(data) -> torch.Tensor:
    return next(data.eval_batches(len(data))).images


@pytest.mark.parametrize("name", ["mnist", "emnist", "mnist-5k", "digits"])
def test_unitcube_maps_black_to_minus_one_and_white_to_one(tmp_path, load, name) -> None:
    write_mnist(tmp_path, train_per_class=2)
    write_emnist(tmp_path, asymmetric_images())
    data = load(name, "train", tmp_path, params={"normalize": "unitcube"})
    assert (data.mean, data.std) == ((0.5,), (0.5,))
    images, pixels = first_batch(data), data.images.float()
    assert torch.allclose(images, pixels / 127.5 - 1)
    assert images.min() >= -1 and images.max() <= 1 and images.min() == -1


def test_standard_uses_each_data_sets_own_statistics(tmp_path, load) -> None:
    write_mnist(tmp_path, train_per_class=2)
    data = load("mnist", "train", tmp_path)
    assert (data.mean, data.std) == ((0.1307,), (0.3081,))
    assert torch.allclose(first_batch(data), (data.images.float() / 255 - 0.1307) / 0.3081)


def test_unitcube_on_colour_images_scales_every_channel(tmp_path, load, write_cifar) -> None:
    write_cifar(tmp_path, "cifar100", per_file=4)
    data = load("cifar100", "test", tmp_path, params={"normalize": "unitcube"})
    assert (data.mean, data.std) == ((0.5,) * 3, (0.5,) * 3)
    assert torch.allclose(first_batch(data), data.images.float() / 127.5 - 1)
    assert statistics("standard", (0.1, 0.2), (0.3, 0.4)) == ((0.1, 0.2), (0.3, 0.4))


@pytest.mark.parametrize("dataset, field", [
    ({"name": "digits", "params": {"normalize": "zscore"}}, "dataset.params.normalize"),
    ({"name": "emnist", "params": {"orientation": "sideways"}}, "dataset.params.orientation"),
])
def test_bad_values_are_one_line_naming_the_field(tiny_track, write_track, capsys, dataset, field):
    tiny_track["dataset"] = dataset
    assert main(["validate", str(write_track(tiny_track))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{field} (line" in err[0] and "Traceback" not in err[0]
