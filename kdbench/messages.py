"""Pieces of one-line messages shared by every part of kdbench: an exception cut to one line and
the "did you mean" hint for a mistyped name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def one_line(error: BaseException) -> str:
    """``Type: first line of the message`` (``Type`` alone without one), for reports that must stay
    on one line."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def close_names(name: str, known: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The ``known`` names closest to a mistyped ``name``, best first (difflib's ratio)."""
    return difflib.get_close_matches(name, list(known), n=n, cutoff=cutoff)


def did_you_mean(spellings: Iterable[str]) -> str:
    """``"; did you mean 'a' or 'b'?"`` for already quoted ``spellings``, or "" when there are none."""
    spelled = list(dict.fromkeys(spellings))
    return f"; did you mean {' or '.join(spelled)}?" if spelled else ""
