"""In-memory image tensors: batches, indices, augmentation, limits."""

from __future__ import annotations

import torch

from kdbench.data import ImageTensors
from kdbench.data.augment import apply_views, normalize, random_crop, random_flip, view_count


def make(n: int = 10, size: int = 4) -> ImageTensors:
    images = torch.arange(n * size * size, dtype=torch.int64).remainder(256).to(torch.uint8)
    return ImageTensors(images.view(n, 1, size, size), torch.arange(n) % 3, 3, (0.0,), (1.0,))


def test_batches_carry_the_right_indices_and_drop_a_partial_last_batch() -> None:
    data = make(10)
    batches = list(data.train_batches(4, torch.Generator().manual_seed(0)))
    assert [len(b.labels) for b in batches] == [4, 4]
    for batch in batches:
        assert torch.equal(batch.labels, data.labels[batch.index])
        assert torch.equal(batch.images, data.images[batch.index].float() / 255)
    assert len(set(torch.cat([b.index for b in batches]).tolist())) == 8


def test_small_sets_give_one_batch_and_eval_covers_everything_in_order() -> None:
    data = make(3)
    assert [len(b.labels) for b in data.train_batches(8, torch.Generator())] == [3]
    assert torch.cat([b.index for b in data.eval_batches(2)]).tolist() == [0, 1, 2]


def test_shuffling_follows_the_generator() -> None:
    data = make(10)
    first = [b.index for b in data.train_batches(5, torch.Generator().manual_seed(1))]
    again = [b.index for b in data.train_batches(5, torch.Generator().manual_seed(1))]
    other = [b.index for b in data.train_batches(5, torch.Generator().manual_seed(2))]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_limit_is_a_fixed_subset() -> None:
    data = make(10)
    assert len(data.limit(4)) == 4 and torch.equal(data.limit(4).images, data.limit(4).images)
    assert data.limit(None) is data and data.limit(99) is data


def test_random_crop_shifts_content_within_padding() -> None:
    image = torch.zeros(64, 1, 5, 5, dtype=torch.uint8)
    image[:, :, 2, 2] = 255
    cropped = random_crop(image, 1, torch.Generator().manual_seed(0))
    positions = {tuple((c[0] == 255).nonzero()[0].tolist()) for c in cropped}
    assert positions <= {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)} and len(positions) > 3
    assert torch.equal(random_crop(image, 0, torch.Generator()), image)


def test_random_flip_flips_about_half() -> None:
    image = torch.zeros(200, 1, 2, 2, dtype=torch.uint8)
    image[:, :, :, 0] = 1
    flipped = random_flip(image, torch.Generator().manual_seed(0))
    share = (flipped[:, 0, 0, 1] == 1).float().mean().item()
    assert 0.35 < share < 0.65
    assert torch.equal(flipped.sum(dim=(1, 2, 3)), image.sum(dim=(1, 2, 3)))


def test_normalize() -> None:
    images = torch.full((1, 2, 1, 1), 255, dtype=torch.uint8)
    out = normalize(images, (0.5, 0.0), (0.5, 2.0))
    assert out.flatten().tolist() == [1.0, 0.5]


def test_a_view_id_is_the_crop_offset_and_flip_it_names() -> None:
    images = torch.randint(0, 256, (3, 2, 5, 5), dtype=torch.uint8)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    augment = ("crop", "flip")
    assert view_count(augment, 2) == 5 * 5 * 2 and view_count(("flip",), 2) == 2 and view_count((), 2) == 1
    for view in range(view_count(augment, 2)):
        dy, dx, flip = view // 2 // 5, view // 2 % 5, view % 2
        expected = padded[:, :, dy:dy + 5, dx:dx + 5]
        expected = expected.flip(-1) if flip else expected
        assert torch.equal(apply_views(images, torch.full((3,), view), augment, 2), expected)


def test_an_augmented_batch_names_the_view_of_each_image() -> None:
    data = make(12, size=6)
    generator = torch.Generator().manual_seed(3)
    for batch in data.train_batches(4, generator, ("crop", "flip"), 1):
        assert batch.view is not None and int(batch.view.max()) < view_count(("crop", "flip"), 1)
        rendered = apply_views(data.images[batch.index], batch.view, ("crop", "flip"), 1)
        assert torch.equal(batch.images, rendered.float() / 255)
    assert all(batch.view is None for batch in data.train_batches(4, generator))
