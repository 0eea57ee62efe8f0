"""ImageNet streamed from tiny JPEGs in ImageFolder layout and from tiny Hugging Face copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from kdbench.data import Batch
from kdbench.errors import DataNotFoundError

COLOURS = {"n01440764": (255, 0, 0), "n01443537": (0, 255, 0), "n01484850": (0, 0, 255)}
MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])


def solid(colour: tuple[int, int, int], size: tuple[int, int]) -> Image.Image:
    return Image.new("RGB", size, colour)


def write_folder(root: Path, per_class: dict[str, int]) -> None:
    """``per_class[split]`` JPEGs of one solid colour per class in ``root/imagenet/<split>/<wnid>``."""
    for split, n in per_class.items():
        for wnid, colour in COLOURS.items():
            (root / "imagenet" / split / wnid).mkdir(parents=True)
            for i in range(n):
                solid(colour, (40 + 7 * i, 30)).save(root / "imagenet" / split / wnid / f"{wnid}_{i}.JPEG")
    (root / "imagenet" / "train" / "n01440764" / "README.txt").write_text("not an image")


def unnormalize(images: torch.Tensor) -> torch.Tensor:
    return images * STD.view(1, 3, 1, 1) + MEAN.view(1, 3, 1, 1)


def hf_split(labels: list[int]):
    import datasets

    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=[*COLOURS, "n01491361"])})
    wnids = list(COLOURS)
    return datasets.Dataset.from_dict(
        {"image": [solid(COLOURS[wnids[label]], (33, 21)) for label in labels], "label": labels},
        features=features)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def test_image_folder_split(tmp_path, load):
    write_folder(tmp_path, {"train": 2, "val": 1})
    train, test = load("imagenet", "train", tmp_path), load("imagenet", "test", tmp_path)
    assert (len(train), len(test)) == (6, 3)
    assert train.labels.dtype == torch.int64 and train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert test.labels.tolist() == [0, 1, 2]
    assert (train.num_classes, train.in_channels, train.image_size) == (3, 3, 224)

    batches = list(test.eval_batches(2))
    assert [len(batch.labels) for batch in batches] == [2, 1]
    first = batches[0]
    assert isinstance(first, Batch) and first.images.dtype == torch.float32
    assert tuple(first.images.shape) == (2, 3, 224, 224) and first.index.tolist() == [0, 1]
    colours = unnormalize(first.images).mean(dim=(2, 3))
    assert torch.allclose(colours, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]), atol=0.02)


def test_training_batches_are_repeatable_and_drop_the_last_partial_one(tmp_path, load, monkeypatch):
    write_folder(tmp_path, {"train": 3})
    monkeypatch.setenv("KDBENCH_DATA_WORKERS", "2")
    train = load("imagenet", "train", tmp_path).to("cpu")
    assert train.workers == 2

    def epoch(seed: int) -> list[Batch]:
        return list(train.train_batches(4, torch.Generator().manual_seed(seed), ("crop", "flip")))

    first, again, other = epoch(0), epoch(0), epoch(1)
    assert [len(batch.labels) for batch in first] == [4, 4]
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a.images, b.images) and torch.equal(a.index, b.index)
    assert not all(torch.equal(a.index, b.index) for a, b in zip(first, other, strict=True))
    for batch in first:
        assert tuple(batch.images.shape) == (4, 3, 224, 224)
        assert torch.equal(batch.labels, train.labels[batch.index])
    used = torch.cat([batch.index for batch in first]).tolist()
    assert len(set(used)) == 8 and set(used) <= set(range(9))


def test_limit_is_a_fixed_subset(tmp_path, load):
    write_folder(tmp_path, {"train": 3})
    train = load("imagenet", "train", tmp_path)
    small = train.limit(4)
    assert len(small) == 4 and torch.equal(small.positions, train.limit(4).positions)
    assert torch.equal(small.labels, train.labels[small.positions])
    assert train.limit(None) is train and train.limit(100) is train
    batch = next(small.eval_batches(4))
    colours = unnormalize(batch.images).mean(dim=(2, 3)).argmax(dim=1)
    assert torch.equal(colours, batch.labels)


def test_saved_hugging_face_copy(tmp_path, load, hf_cache):
    import datasets

    datasets.DatasetDict(train=hf_split([0, 1, 2, 1]), validation=hf_split([2, 0])).save_to_disk(
        str(tmp_path / "imagenet-1k"))
    train, test = load("imagenet", "train", tmp_path), load("imagenet", "test", tmp_path)
    assert train.labels.tolist() == [0, 1, 2, 1] and test.labels.tolist() == [2, 0]
    assert train.num_classes == 4 and train.labels.dtype == torch.int64
    batch = next(test.eval_batches(8))
    assert tuple(batch.images.shape) == (2, 3, 224, 224)
    assert unnormalize(batch.images).mean(dim=(2, 3)).argmax(dim=1).tolist() == [2, 0]


def test_parquet_hugging_face_copy(tmp_path, load, hf_cache):
    data = tmp_path / "imagenet-1k" / "data"
    hf_split([0, 1, 2]).to_parquet(str(data / "train-00000-of-00002.parquet"))
    hf_split([1, 1]).to_parquet(str(data / "train-00001-of-00002.parquet"))
    hf_split([2]).to_parquet(str(data / "validation-00000-of-00001.parquet"))
    train, test = load("imagenet", "train", tmp_path), load("imagenet", "test", tmp_path)
    assert train.labels.tolist() == [0, 1, 2, 1, 1] and test.labels.tolist() == [2]
    batch = next(train.train_batches(5, torch.Generator().manual_seed(0), ("crop",)))
    assert torch.equal(batch.labels, train.labels[batch.index])
    colours = unnormalize(batch.images).mean(dim=(2, 3)).argmax(dim=1)
    assert torch.equal(colours, batch.labels)
    assert np.array_equal(np.sort(batch.index.numpy()), np.arange(5))
    assert (tmp_path / "hf-cache").is_dir()


@pytest.mark.parametrize("download", [False, True])
def test_missing_copy_names_both_places(tmp_path, load, download):
    (tmp_path / "imagenet" / "train").mkdir(parents=True)
    with pytest.raises(DataNotFoundError) as caught:
        load("imagenet", "train", tmp_path, download=download)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("imagenet:")
    assert str(tmp_path / "imagenet") in message and str(tmp_path / "imagenet-1k") in message
    assert "cannot be downloaded" in message
