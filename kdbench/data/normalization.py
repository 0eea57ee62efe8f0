"""How pixels become network inputs: ``standard`` (the data set's per-channel mean and std) or
``unitcube`` (x in [-1, 1], Normalize(0.5, 0.5) on the 0-1 scale, as Stanton et al.'s gnosis does
by default: ``augmentation.normalization: unitcube``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kdbench.types import Params

Normalization = Literal["standard", "unitcube"]
UNITCUBE_CENTER = 0.5


class ImageParams(Params):
    """The parameter every built-in image data set takes: how its pixels are scaled."""

    normalize: Normalization = Field("standard", description="standard: subtract the data set's "
                                     "mean, divide by its std; unitcube: scale pixels to [-1, 1]")


def statistics(normalize: Normalization, mean: tuple[float, ...], std: tuple[float, ...],
               ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (mean, std) that ``normalize`` applies to pixels on the 0-1 scale, per channel."""
    if normalize == "unitcube":
        center = (UNITCUBE_CENTER,) * len(mean)
        return center, center
    return mean, std


STANDARD = ImageParams()
