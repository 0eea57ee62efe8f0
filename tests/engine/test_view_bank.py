"""The view bank: the teacher's logits of every view of every image, served by (index, view)
exactly as the live teacher would give them on the augmented batch; used only where it can be."""

from __future__ import annotations

import pytest
import torch

from kdbench.data.augment import apply_views, normalize
from kdbench.engine import view_bank
from kdbench.engine.view_bank import ViewBank, can_bank, make_bank, why_not_bank
from kdbench.methods.hint import Hint, HintParams
from kdbench.methods.kd import KD, KDParams
from kdbench.specs import Recipe
from kdbench.testing.tiny import lenet_pair, tiny_data

CPU = torch.device("cpu")
AUGMENTED = Recipe(epochs=1, batch_size=8, lr=0.1, augment=("crop", "flip"), crop_padding=1)


def test_the_bank_holds_the_teachers_logits_of_each_view_and_serves_the_batchs_own() -> None:
    data = tiny_data(n=12)
    student, teacher = lenet_pair(data)
    views: list[int] = []
    bank = make_bank(teacher, data, AUGMENTED, 5, CPU, views.append)
    assert bank.shape == (12, 18, data.num_classes) and views == list(range(18))
    with torch.no_grad():
        for view in (0, 7, 17):
            images = apply_views(data.images, torch.full((12,), view), AUGMENTED.augment, 1)
            expected = teacher.eval()(normalize(images, data.mean, data.std))
            assert torch.allclose(bank[:, view], expected, atol=1e-5)
        batch = next(data.train_batches(8, torch.Generator().manual_seed(0), AUGMENTED.augment, 1))
        assert torch.allclose(ViewBank(bank)(batch), teacher(batch.images), atol=1e-5)
    with pytest.raises(RuntimeError, match="only augmented batches"):
        ViewBank(bank)(next(data.eval_batches(4)))


def test_only_an_augmented_logits_method_on_small_in_memory_data_gets_a_bank(monkeypatch) -> None:
    data = tiny_data(n=12)
    student, teacher = lenet_pair(data)
    kd = KD(student, teacher, KDParams())
    assert can_bank(kd, AUGMENTED, data) and why_not_bank(kd, AUGMENTED, data) is None
    assert "not augmented" in str(why_not_bank(kd, AUGMENTED.model_copy(update={"augment": ()}), data))
    assert "reads the teacher's features" in str(why_not_bank(Hint(student, teacher, HintParams()),
                                                               AUGMENTED, data))
    assert why_not_bank(KD(student, None, KDParams()), AUGMENTED, data) == "KD has no teacher"
    handle = teacher.register_forward_hook(lambda *args: None)
    assert "a hook watches the teacher" in str(why_not_bank(kd, AUGMENTED, data))
    handle.remove()
    monkeypatch.setattr(view_bank, "LIMIT_BYTES", 12 * 18 * data.num_classes * 4 - 1)
    assert "the bank would take" in str(why_not_bank(kd, AUGMENTED, data))  # one byte too large
    assert not can_bank(kd, AUGMENTED, data)
