"""``check_method``: the invariants every distillation method keeps, run on tiny data.

finite (named scalar loss terms, finite loss and gradients, the student learns, the teacher gets
no gradient), deterministic (the same seed gives the same terms and gradients), state-dict (a fresh
distiller that loads ``student_state_dict()`` after a training step computes the same terms, as a
resumed run must), hidden-labels (the values of labels whose ``label_mask`` is False never matter)
and no-labels (with every label hidden the method works, unless its ``MethodInfo`` declares that it
needs labels); teacher-outputs (a method that declares ``teacher_outputs = "logits"`` computes the
same terms when its teacher's logits come from a table and the teacher itself never runs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from kdbench.data.tensors import Batch, ImageTensors
from kdbench.engine.teacher_logits import LogitsTable
from kdbench.messages import one_line
from kdbench.methods.base import Distiller
from kdbench.plugins import PluginManager, get_plugin_manager
from kdbench.specs import Recipe
from kdbench.testing.contract import ContractError, finite, same
from kdbench.testing.tiny import lenet_pair, tiny_data
from kdbench.types import MethodInfo

ModelPair = Callable[[ImageTensors], tuple[nn.Module, nn.Module]]


class Step:
    """One training step of a distiller on one batch: its terms and the gradients they give."""

    def __init__(self, distiller: Distiller[Any], batch: Batch, seed: int):
        distiller.train()
        distiller.zero_grad(set_to_none=True)
        torch.manual_seed(seed)  # methods may draw at random (CRD's negatives)
        self.terms: dict[str, Tensor] = distiller(batch, epoch=0)
        if not isinstance(self.terms, Mapping) or not self.terms:
            raise TypeError(f"forward returned {type(self.terms).__name__}, not a non-empty dict of "
                            "named loss terms")
        self.loss = sum(self.terms.values(), torch.zeros(()))
        self.loss.backward()
        self.grads = {name: p.grad.clone() for name, p in distiller.named_parameters() if p.grad is not None}


class MethodChecker:
    """The checks of one method with one set of parameters; ``fail`` raises a ``ContractError``."""

    def __init__(self, name: str, info: MethodInfo, params: Any, models: ModelPair, seed: int):
        self.name, self.info, self.params, self.models, self.seed = name, info, params, models, seed

    def fail(self, check: str, problem: str) -> ContractError:
        return ContractError("check_method", self.name, check, problem)

    def build(self, data: ImageTensors, seed: int) -> Distiller[Any]:
        torch.manual_seed(seed)
        student, teacher = self.models(data)
        distiller = self.info.factory(student, teacher if self.info.needs_teacher else None, self.params)
        distiller.prepare(data)
        return distiller

    def step(self, check: str, data: ImageTensors, seed: int | None = None,
             distiller: Distiller[Any] | None = None) -> tuple[Distiller[Any], Step]:
        """Build (unless given) and run one step on ``data``'s first training batch."""
        seed = self.seed if seed is None else seed
        try:
            distiller = distiller or self.build(data, seed)
            batch = next(data.train_batches(16, torch.Generator().manual_seed(self.seed)))
            return distiller, Step(distiller, batch, self.seed)
        except ContractError:
            raise
        except Exception as error:
            raise self.fail(check, f"raised {one_line(error)}") from error

    def compare(self, check: str, a: Step, b: Step, why: str) -> None:
        if a.terms.keys() != b.terms.keys():
            raise self.fail(check, f"{why} changed the loss terms ({sorted(a.terms)} -> {sorted(b.terms)})")
        for term in a.terms:
            before, after = float(a.terms[term].detach()), float(b.terms[term].detach())
            if not same(a.terms[term], b.terms[term]):
                raise self.fail(check, f"{why} changed loss term {term!r} ({before:.6g} -> {after:.6g})")
        for param in sorted(a.grads.keys() | b.grads.keys()):
            if param not in a.grads or param not in b.grads or not same(a.grads[param], b.grads[param]):
                raise self.fail(check, f"{why} changed the gradient of {param!r}")

    def check_finite(self) -> None:
        distiller, step = self.step("finite", tiny_data())
        for term, value in step.terms.items():
            if not isinstance(value, Tensor) or value.ndim != 0:
                raise self.fail("finite", f"loss term {term!r} is not a scalar tensor")
        if not finite(step.loss):
            raise self.fail("finite", f"the loss is not finite ({float(step.loss.detach())})")
        bad = sorted(name for name, grad in step.grads.items() if not finite(grad))
        if bad:
            raise self.fail("finite", f"the gradient of {bad[0]!r} is not finite")
        if not any(grad.abs().sum() > 0 for name, grad in step.grads.items() if name.startswith("student.")):
            raise self.fail("finite", "the student gets no gradient")
        if any(name.startswith("teacher.") for name in step.grads):
            raise self.fail("finite", "the teacher gets a gradient (it must stay frozen)")
        if distiller.teacher is not None and distiller.teacher.training:
            raise self.fail("finite", "the teacher is in training mode (it must stay in eval mode)")

    def check_deterministic(self) -> None:
        data = tiny_data()
        self.compare("deterministic", self.step("deterministic", data)[1],
                     self.step("deterministic", data)[1], "running again with the same seed")

    def check_state_dict(self) -> None:
        data = tiny_data()
        trained, _ = self.step("state-dict", data)
        with torch.no_grad():
            for param in trained.trainable_parameters():
                if param.grad is not None:
                    param.sub_(0.1 * param.grad)
        state = {key: value.clone() for key, value in trained.student_state_dict().items()}
        fresh = self.build(data, self.seed + 1)
        if fresh.teacher is not None and trained.teacher is not None:
            fresh.teacher.load_state_dict(trained.teacher.state_dict())
        missing, unexpected = fresh.load_state_dict(state, strict=False)
        missing = [key for key in missing if not key.startswith("teacher.")]
        if missing or unexpected:
            raise self.fail("state-dict", f"student_state_dict() does not load into a fresh distiller "
                                          f"(missing {missing}, unexpected {unexpected})")
        self.compare("state-dict", self.step("state-dict", data, distiller=trained)[1],
                     self.step("state-dict", data, distiller=fresh)[1],
                     "saving student_state_dict() and loading it into a fresh distiller")

    def check_hidden_labels(self) -> None:
        labels = torch.arange(48) % 4
        mask = torch.arange(48) % 3 != 0
        shifted = tiny_data(torch.where(mask, labels, (labels + 1) % 4), mask)
        unset = tiny_data(torch.where(mask, labels, -1), mask)
        self.compare("hidden-labels", self.step("hidden-labels", shifted)[1],
                     self.step("hidden-labels", unset)[1],
                     "changing the values of hidden labels (label_mask False)")

    def check_no_labels(self) -> None:
        if self.info.labels_needed(self.params):
            return
        data = tiny_data(torch.full((48,), -1), torch.zeros(48, dtype=torch.bool))
        step = self.step("no-labels", data)[1]
        if not finite(step.loss) or not all(finite(grad) for grad in step.grads.values()):
            raise self.fail("no-labels", "with every label hidden the loss or a gradient is not finite "
                                         "(declare needs_labels in its MethodInfo if it needs labels)")

    def check_teacher_outputs(self) -> None:
        data = tiny_data()
        live, step = self.step("teacher-outputs", data)
        if type(live).teacher_outputs != "logits" or live.teacher is None:
            return
        batch = next(data.train_batches(16, torch.Generator().manual_seed(self.seed)))
        table = torch.zeros(len(data), data.num_classes)
        with torch.no_grad():
            table[batch.index] = live.teacher.eval()(batch.images)
        served = self.build(data, self.seed)
        served.teacher_source = LogitsTable(table)

        def never(*args: Any) -> Tensor:
            raise AssertionError("the teacher ran although its logits came from a table (declare "
                                 "teacher_outputs = 'features' if forward reads more of the teacher)")

        served.teacher.forward = never  # type: ignore[union-attr]
        self.compare("teacher-outputs", step, self.step("teacher-outputs", data, distiller=served)[1],
                     "serving the teacher's logits from a table (teacher_outputs = 'logits')")

def check_method(name: str, params: Mapping[str, Any] | None = None, *, models: ModelPair | None = None,
                 pm: PluginManager | None = None, seed: int = 0) -> None:
    """Check the installed method ``name`` with ``params`` (default: its defaults, validated for a
    4-epoch recipe) on tiny 1 x 16 x 16 images of 4 classes; ``models(data)`` returns the
    (student, teacher) pair to use (default: LeNet-5 of widths 0.5 and 1)."""
    pm = pm or get_plugin_manager()
    info = pm.methods.get(name)
    recipe = Recipe.model_validate({"epochs": 4})
    validated = info.Params.model_validate(dict(params or {}), context={"recipe": recipe})
    checker = MethodChecker(name, info, validated, models or lenet_pair, seed)
    checker.check_finite()
    checker.check_deterministic()
    checker.check_state_dict()
    checker.check_hidden_labels()
    checker.check_no_labels()
    checker.check_teacher_outputs()
