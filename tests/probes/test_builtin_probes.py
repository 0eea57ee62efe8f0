"""Golden tests of the built-in probes: tiny hand-built networks and images whose every value is
computed by hand in the comments."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from kdbench.data.tensors import ImageTensors
from kdbench.probes.adversarial import AdversarialParams, adversarial, attack
from kdbench.probes.errors import error_agreement
from kdbench.probes.gradcam import GradCAMParams, gradcam, localisation
from kdbench.probes.invariance import InvarianceParams, invariance
from kdbench.probes.transforms import colourize, rotate, translate
from kdbench.types import NoParams

CPU = torch.device("cpu")


def run(probe, student, teacher, split, params, reference=None) -> dict:
    return probe(student, teacher, reference, split, params, device=CPU,
                 generator=torch.Generator().manual_seed(0))


class Brightest(nn.Module):
    """Predicts the position of the brightest pixel (channel mean) of a 3x3 image: 9 classes."""

    def forward(self, images: Tensor) -> Tensor:
        return images.mean(1).flatten(1)


class Constant(nn.Module):
    """Always predicts class 0."""

    def forward(self, images: Tensor) -> Tensor:
        return torch.eye(9)[0].expand(len(images), 9)


def spots() -> ImageTensors:
    """Three 1x3x3 images, each one white pixel (at the centre, position 0, position 1), labelled
    with its position; inputs are the pixels in [0, 1] (mean 0, std 1)."""
    images = torch.zeros(3, 1, 3, 3, dtype=torch.uint8)
    for i, position in enumerate((4, 0, 1)):
        images[i, 0].view(-1)[position] = 255
    return ImageTensors(images, torch.tensor([4, 0, 1]), num_classes=9, mean=(0.0,), std=(1.0,))


@pytest.mark.parametrize("params, agree, accurate", [
    # 180 degrees: the centre stays, 0 -> 8, 1 -> 7: one image of three keeps its prediction
    ({"transform": "rotation", "degrees": 180}, 100 / 3, 100 / 3),
    # one pixel right and down: 4 -> 8, 0 -> 4, 1 -> 5: none keeps it
    ({"transform": "translation", "shift": 1}, 0.0, 0.0),
    # half the contrast: the white pixel (5/9) stays brighter than the rest (1/18)
    ({"transform": "contrast", "factor": 0.5}, 100.0, 100.0),
    # colour: the white pixel's mean colour is at least 0.4, the background's under 0.4
    ({"transform": "colour"}, 100.0, 100.0),
])
def test_invariance_counts_predictions_that_survive_the_transform(params, agree, accurate) -> None:
    values = run(invariance, Brightest(), Constant(), spots(), InvarianceParams(**params))
    assert values["student"] == pytest.approx(agree)
    assert values["student_acc"] == pytest.approx(accurate)
    assert values["teacher"] == 100.0  # a constant prediction never changes
    assert values["teacher_acc"] == pytest.approx(100 / 3)  # label 0 is one of three


def test_rotation_and_translation_move_pixels_exactly() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.allclose(rotate(x, 90), torch.rot90(x, 1, (2, 3)), atol=1e-5)
    assert translate(x, 1)[0, 0, 1:, 1:].equal(x[0, 0, :3, :3])
    assert translate(x, -1)[0, 0, :3, :3].equal(x[0, 0, 1:, 1:])
    assert translate(x, 1)[0, 0, 0].abs().sum() == 0


def test_colourize_paints_digits_and_background_from_the_generator() -> None:
    grey = torch.tensor([[[[1.0, 0.0]]]])
    first = colourize(grey, torch.Generator().manual_seed(3))
    assert first.shape == (1, 3, 1, 2)
    assert first.equal(colourize(grey, torch.Generator().manual_seed(3)))
    assert ((first[..., 0] >= 0.4) & (first[..., 0] <= 1)).all()  # the digit's colour
    assert ((first[..., 1] >= 0) & (first[..., 1] < 0.4)).all()  # the background's


class Threshold(nn.Module):
    """Two classes from one pixel p: class 0 when p > cut (logits p - cut and cut - p)."""

    def __init__(self, cut: float):
        super().__init__()
        self.cut = cut

    def forward(self, images: Tensor) -> Tensor:
        p = images.flatten(1)[:, :1]
        return torch.cat([p - self.cut, self.cut - p], 1)


def pixels() -> ImageTensors:
    """p = 140, 230, 77, 115 / 255 (0.549, 0.902, 0.302, 0.451), labels 0, 0, 1, 1: a teacher
    cutting at 0.5 gets all four right."""
    images = torch.tensor([140, 230, 77, 115], dtype=torch.uint8).view(4, 1, 1, 1)
    return ImageTensors(images, torch.tensor([0, 0, 1, 1]), num_classes=2, mean=(0.0,), std=(1.0,))


@pytest.mark.parametrize("params, teacher, student", [
    # eps 0.1 moves each p 0.1 towards the cut: 0.449 and 0.551 cross it (2 of 4 fool the teacher);
    # the student (cut 0.42) still calls 0.449 class 0 (right) but 0.551 class 0 (wrong): 1 of 2
    ({"attack": "fgsm", "eps": 0.1}, 50.0, 50.0),
    ({"attack": "pgd", "eps": 0.1, "steps": 5, "step_size": 0.05}, 50.0, 50.0),
    # eps 0.2: 0.349, 0.502 and 0.651 cross 0.5 (3 of 4) and all three fool the student too
    ({"attack": "pgd", "eps": 0.2, "steps": 4}, 75.0, 100.0),
])
def test_adversarial_transfer_counts_teacher_fooling_examples_that_fool_the_student(
        params, teacher, student) -> None:
    values = run(adversarial, Threshold(0.42), Threshold(0.5), pixels(), AdversarialParams(**params))
    assert values == {"teacher": pytest.approx(teacher), "student": pytest.approx(student)}


def test_attacks_stay_in_the_eps_ball_and_the_pixel_range() -> None:
    x = torch.tensor([0.0, 0.05, 0.5, 0.98]).view(4, 1, 1, 1)
    labels = torch.tensor([1, 1, 1, 0])
    adv = attack(Threshold(0.5), x, labels, AdversarialParams(eps=0.1, steps=7), (0.0,), (1.0,))
    assert ((adv - x).abs() <= 0.1 + 1e-6).all() and adv.min() >= 0 and adv.max() <= 1
    assert adv.flatten().tolist() == pytest.approx([0.1, 0.15, 0.6, 0.88])  # each pushed to the edge


def test_fgsm_refuses_pgd_parameters() -> None:
    with pytest.raises(ValueError, match="fgsm takes one step"):
        AdversarialParams(attack="fgsm", steps=3)


class Table(nn.Module):
    """Image i (its one pixel is i) gets the logits of row i."""

    def __init__(self, predictions: list[int], classes: int = 3):
        super().__init__()
        self.logits = torch.eye(classes)[predictions]

    def forward(self, images: Tensor) -> Tensor:
        return self.logits[images.flatten(1)[:, 0].round().long()]


def indexed(labels: list[int]) -> ImageTensors:
    images = torch.arange(len(labels), dtype=torch.uint8).view(-1, 1, 1, 1)
    return ImageTensors(images, torch.tensor(labels), num_classes=3, mean=(0.0,), std=(1 / 255,))


def test_error_agreement_counts_the_teachers_mistakes_the_student_repeats() -> None:
    # the teacher errs on images 1 (says 1) and 3 (says 0): 2 of 5; the student repeats image 1's
    split = indexed([0, 0, 2, 1, 1])
    values = run(error_agreement, Table([0, 1, 2, 2, 1]), Table([0, 1, 2, 0, 1]), split, NoParams())
    assert values == {"student": 50.0, "teacher_errors": 40.0}
    perfect = run(error_agreement, Table([0, 0, 2, 1, 1]), Table([0, 0, 2, 1, 1]), split, NoParams())
    assert perfect == {"student": None, "teacher_errors": 0.0}  # no error to agree on


class Masked(nn.Module):
    """Feature map A = x * mask (tap "map"); logits (sum A, -sum A). Grad-CAM of class 0 weighs A by
    the mean gradient 1, so its map is relu(x * mask)."""

    feature_taps = {"map": "gate"}

    def __init__(self, mask: Tensor):
        super().__init__()
        self.gate = Gate(mask)

    def forward(self, images: Tensor) -> Tensor:
        total = self.gate(images).sum(dim=(1, 2, 3))[:, None]
        return torch.cat([total, -total], 1)


class Gate(nn.Module):
    def __init__(self, mask: Tensor):
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, images: Tensor) -> Tensor:
        return images * self.mask


LEFT, RIGHT = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])


def test_gradcam_of_a_gated_net_is_its_gated_image() -> None:
    x = torch.tensor([[[[0.5, 1.0]]]])
    assert gradcam(Masked(LEFT), "map", x, torch.tensor([0])).tolist() == [[[0.5, 0.0]]]
    assert gradcam(Masked(LEFT), "map", x, torch.tensor([1])).abs().sum() == 0  # relu of -x


def test_localisation_counts_images_where_the_teacher_map_is_nearer_the_student() -> None:
    # 1x1x2 images: white left, white right, both white; teacher map = image, student map = its
    # left half, reference map = its right half. Cosines with the teacher: student 1, 0, 0.7071;
    # reference 0, 1, 0.7071: closer on the first, farther on the second, a tie (half) on the third
    images = torch.tensor([[[[255, 0]]], [[[0, 255]]], [[[255, 255]]]], dtype=torch.uint8)
    split = ImageTensors(images, torch.zeros(3, dtype=torch.long), num_classes=2, mean=(0.0,), std=(1.0,))
    values = run(localisation, Masked(LEFT), Masked(torch.ones(1, 2)), split,
                 GradCAMParams(student_tap="map", teacher_tap="map"), reference=Masked(RIGHT))
    assert values["closer"] == pytest.approx(50.0)
    assert values["student"] == pytest.approx((1 + 0 + 2 ** -0.5) / 3)
    assert values["reference"] == pytest.approx((0 + 1 + 2 ** -0.5) / 3)
