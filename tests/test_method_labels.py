"""A method entry's ``label`` is a plain optional field that YAML's ``label:`` sets; the track
gives each entry's label or, without one, its name; a model's signature spells its parameters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kdbench.specs import MethodRef, Ref, TrackSpec


def test_yaml_label_sets_the_label_field() -> None:
    entry = MethodRef.model_validate({"name": "kd", "label": "kd-t1", "params": {"temperature": 1}})
    assert entry.label == "kd-t1"
    assert MethodRef.model_validate({"name": "kd"}).label is None


def test_the_old_private_spelling_is_refused() -> None:
    with pytest.raises(ValidationError, match="label_"):
        MethodRef.model_validate({"name": "kd", "label_": "kd-t1"})


def test_a_track_labels_a_method_by_its_label_else_its_name(tiny_track: dict) -> None:
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"}, {"name": "kd", "label": "kd-t1"}]
    track = TrackSpec.model_validate(tiny_track)
    assert [track.method_label(m) for m in track.methods] == ["ce", "kd", "kd-t1"]


def test_two_entries_of_one_method_need_labels_that_differ(tiny_track: dict) -> None:
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"}, {"name": "kd"}]
    with pytest.raises(ValidationError, match="kd"):
        TrackSpec.model_validate(tiny_track)


def test_a_signature_spells_sorted_parameters() -> None:
    assert Ref(name="mlp").signature() == "mlp"
    assert Ref(name="mlp", params={"width": 2, "depth": 1}).signature() == "mlp(depth=1, width=2)"
