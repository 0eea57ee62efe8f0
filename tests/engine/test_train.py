"""The training loop: it learns, it is repeatable, and an interrupted run resumes exactly."""

from __future__ import annotations

import logging

import pytest
import torch

from kdbench.data.embedded import load_digits
from kdbench.data.normalization import ImageParams
from kdbench.engine.train import fit
from kdbench.errors import KdbenchError
from kdbench.methods.ce import CE, CEParams
from kdbench.models.mlp import MLP
from kdbench.specs import Recipe

RECIPE = Recipe(epochs=4, batch_size=64, lr=0.1, milestones=(2,), augment=("crop",), crop_padding=1)


def train_once(checkpoint=None, on_epoch=None, seed: int = 0):
    data = load_digits(ImageParams(), "train")
    torch.manual_seed(seed)
    model = MLP(64, 10, (32,))
    history = fit(CE(model, None, CEParams()), data, RECIPE, seed, torch.device("cpu"),
                  test=load_digits(ImageParams(), "test"), checkpoint=checkpoint, on_epoch=on_epoch)
    return model, history


def test_it_learns_and_logs_each_epoch() -> None:
    _, history = train_once()
    assert [entry["epoch"] for entry in history] == [0, 1, 2, 3]
    assert [entry["lr"] for entry in history] == pytest.approx([0.1, 0.1, 0.01, 0.01])
    assert history[-1]["loss"]["ce"] < history[0]["loss"]["ce"]
    assert history[-1]["test_acc"] > 80
    assert all(entry["images"] == 1280 and not entry["teacher"] for entry in history)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    a, _ = train_once(seed=0)
    b, _ = train_once(seed=0)
    c, _ = train_once(seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                  strict=True))
    assert not torch.equal(a.layers[1].weight, c.layers[1].weight)


def test_interrupted_run_resumes_from_its_last_epoch(tmp_path) -> None:
    reference, reference_history = train_once()
    checkpoint = tmp_path / "run.pt"

    def interrupt(epoch, entry):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_once(checkpoint, interrupt)
    assert checkpoint.exists()
    epochs_run = []
    resumed, history = train_once(checkpoint, lambda epoch, entry: epochs_run.append(epoch))
    assert epochs_run == [2, 3]
    assert [e["loss"] for e in history] == [e["loss"] for e in reference_history]
    for x, y in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_a_diverged_run_fails_with_the_epoch_and_the_term() -> None:
    data = load_digits(ImageParams(), "train")
    torch.manual_seed(0)
    model = MLP(64, 10, (32,))
    with torch.no_grad():
        model.layers[1].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="loss term 'ce' is not finite in epoch 0"):
        fit(CE(model, None, CEParams()), data, RECIPE, 0, torch.device("cpu"))


def other_model_checkpoint(path) -> None:
    """A checkpoint of a wider network, in the right format."""
    path.unlink()
    data = load_digits(ImageParams(), "train")
    recipe = RECIPE.model_copy(update={"epochs": 1})
    fit(CE(MLP(64, 10, (48,)), None, CEParams()), data, recipe, 0, torch.device("cpu"), checkpoint=path)


@pytest.mark.parametrize("corrupt", [
    lambda path: path.write_bytes(b""),
    lambda path: path.write_bytes(bytes(range(256)) * 40),
    lambda path: path.write_bytes(path.read_bytes()[:1000]),
    lambda path: torch.save({"epoch": "one"}, path),
    lambda path: torch.save([1, 2], path),
    other_model_checkpoint,
])
def test_a_corrupt_checkpoint_is_moved_aside_and_training_starts_over(tmp_path, caplog, corrupt) -> None:
    reference, reference_history = train_once()
    checkpoint = tmp_path / "run.pt"

    def interrupt(epoch, entry):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_once(checkpoint, interrupt)
    corrupt(checkpoint)
    damaged = checkpoint.read_bytes()
    epochs_run = []
    with caplog.at_level(logging.WARNING, logger="kdbench"):
        model, history = train_once(checkpoint, lambda epoch, entry: epochs_run.append(epoch))
    assert epochs_run == [0, 1, 2, 3]
    (warning,) = [record.getMessage() for record in caplog.records]
    assert str(checkpoint) in warning and "corrupt" in warning and "\n" not in warning
    assert corrupt is not other_model_checkpoint or "does not fit the model" in warning
    assert (tmp_path / "run.pt.corrupt").read_bytes() == damaged
    assert [e["loss"] for e in history] == [e["loss"] for e in reference_history]
    for x, y in zip(reference.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_before_checkpoint_runs_before_the_epoch_is_checkpointed(tmp_path) -> None:
    checkpoint, seen = tmp_path / "run.pt", []

    def before(epoch):
        seen.append((epoch, torch.load(checkpoint)["epoch"] if checkpoint.exists() else None))

    data = load_digits(ImageParams(), "train")
    fit(CE(MLP(64, 10, (8,)), None, CEParams()), data, RECIPE, 0, torch.device("cpu"),
        checkpoint=checkpoint, before_checkpoint=before)
    assert seen == [(0, None), (1, 0), (2, 1), (3, 2)]


def test_a_checkpoint_that_cannot_be_written_is_an_error_not_a_failure(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(KdbenchError, match=f"cannot write {tmp_path / 'file' / 'run.pt'}: "):
        train_once(tmp_path / "file" / "run.pt")
