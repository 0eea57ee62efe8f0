"""Model families, one module each, registered through kdbench's own ``builtin`` plugin."""

from kdbench.types import ModelInfo


def builtin_models() -> list[ModelInfo]:
    """The model families kdbench registers through its own ``builtin`` plugin."""
    from kdbench.models import lenet, mlp

    return [
        ModelInfo("lenet5", "LeNet-5 (Stanton et al. 2021) with a width multiplier",
                  lenet.build_lenet5, lenet.LeNet5Params, example="lenet5"),
        ModelInfo("mlp", "multilayer perceptron on flattened pixels", mlp.build_mlp,
                  mlp.MLPParams, example="mlp"),
    ]
