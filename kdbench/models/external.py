"""Models from torchvision and timm through kdbench's registry: ``torchvision/<name>`` (any
torchvision classification model) and ``timm/<name>`` (any timm model).

Both are built for the data's channels and classes. Each model carries a ``model_cfg``: its
classifier from timm's ``pretrained_cfg['classifier']``, or for torchvision from a table of its
families (an architecture the table does not know is an error naming it, never a guess), and the
hint tap ``stage2`` where the architecture has stages that downsample. Feature taps come from
those stages (torchvision's ResNets and RegNets, timm's ``feature_info``); every model also gets a
``penultimate`` tap: a parameter-free module that a forward pre-hook on the classifier calls with
the classifier's input, so forward hooks on it see the features that feed the classifier while the
model's ``forward`` and ``state_dict`` stay as the library made them (the tap is the model's last
child). torchvision and timm are imported only when such a model is built.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from pydantic import Field
from torch import nn

from kdbench.errors import KdbenchError, ParamError
from kdbench.messages import close_names, did_you_mean
from kdbench.models.cfg import ModelCfg
from kdbench.models.common import parse_name
from kdbench.types import Params

TORCHVISION_PATTERN = r"torchvision/(?P<arch>.+)"
TIMM_PATTERN = r"timm/(?P<arch>.+)"
HINT_STAGE = "stage2"  # RepDistiller's ImageNet hint_layer 2: the output of layer2

# torchvision's classification families (torchvision.models.list_models) and the module path of
# each one's classifier, as its model code builds it; an architecture matches one pattern.
TORCHVISION_CLASSIFIERS: tuple[tuple[str, str], ...] = (
    (r"alexnet|vgg\d+(_bn)?", "classifier.6"),
    (r"convnext_\w+", "classifier.2"),
    (r"densenet\d+", "classifier"),
    (r"efficientnet_\w+|mnasnet\w+|mobilenet_v2|squeezenet\w+", "classifier.1"),
    (r"mobilenet_v3_\w+", "classifier.3"),
    (r"maxvit_\w+", "classifier.5"),
    (r"swin_\w+", "head"),
    (r"vit_\w+", "heads.head"),
    (r"(wide_)?resnet\d+(_\d+)?|resnext\w+|regnet_\w+|shufflenet_v2_\w+|googlenet|inception_v3", "fc"),
)


class TorchvisionParams(Params):
    weights: str | None = Field(None, description="pretrained weights by name, such as "
                                "IMAGENET1K_V1 or DEFAULT (downloaded once into torch's hub cache); "
                                "none: random initialization")


class TimmParams(Params):
    pretrained: bool = Field(False, description="load timm's default pretrained weights "
                             "(downloaded once into the Hugging Face cache)")


class PenultimateTap(nn.Identity):
    """Returns its input; ``observe`` is a forward pre-hook for the classifier that passes the
    classifier's input through this module, so forward hooks on it see the penultimate features."""

    def observe(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self(args[0])


def attach_penultimate(model: nn.Module, classifier: str) -> str:
    """Add a ``penultimate`` tap fed by the module at path ``classifier``; returns the tap's path."""
    tap = PenultimateTap()
    model.add_module("penultimate", tap)
    model.get_submodule(classifier).register_forward_pre_hook(tap.observe)
    return "penultimate"


def _shapes_only() -> bool:
    """Whether the model is being built on the meta device (``kdbench validate`` checking its
    feature taps): meta tensors hold no values, so no pretrained weights are loaded."""
    return torch.get_default_device().type == "meta"


def _unknown(name: str, arch: str, known: list[str], library: str) -> KdbenchError:
    hint = did_you_mean(repr(close) for close in close_names(arch, known))
    return KdbenchError(f"unknown model {name!r}: {library} has no classification model {arch!r}{hint}")


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def torchvision_classifier(name: str, arch: str) -> str:
    """The classifier's module path of torchvision architecture ``arch``, from the table."""
    paths = [path for pattern, path in TORCHVISION_CLASSIFIERS if re.fullmatch(pattern, arch)]
    if len(paths) != 1:
        raise KdbenchError(f"{name}: kdbench does not know where torchvision's {arch} keeps its "
                           "classifier (add its family to TORCHVISION_CLASSIFIERS in "
                           "kdbench/models/external.py)")
    return paths[0]


def _replace_head(model: nn.Module, path: str, num_classes: int) -> None:
    """Swap the classifier at ``path`` for a freshly initialized one with ``num_classes`` outputs."""
    old = model.get_submodule(path)
    if isinstance(old, nn.Linear):
        new: nn.Module = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    elif isinstance(old, nn.Conv2d):
        # torch types a Conv2d's kernel_size, stride and padding as tuple[int, ...]; they are pairs
        new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride,  # type: ignore[arg-type]
                        old.padding, bias=old.bias is not None)  # type: ignore[arg-type]
    else:
        raise KdbenchError(f"the classifier at {path} is a {type(old).__name__}, not a Linear or Conv2d")
    _set_submodule(model, path, new)


def _adapt_input(model: nn.Module, in_channels: int, pretrained: bool) -> None:
    """Give the first convolution ``in_channels`` inputs; pretrained RGB filters are averaged over
    colour and rescaled so that a grey image gives the same response as its RGB copy."""
    path, conv = next(((p, m) for p, m in model.named_modules() if isinstance(m, nn.Conv2d)),
                      (None, None))
    if path is None or conv is None or conv.in_channels == in_channels:
        return
    # torch types a Conv2d's kernel_size, stride, padding and dilation as tuple[int, ...]; they are pairs
    new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride,  # type: ignore[arg-type]
                    conv.padding, conv.dilation, conv.groups,  # type: ignore[arg-type]
                    bias=conv.bias is not None, padding_mode=conv.padding_mode)
    if pretrained:
        with torch.no_grad():
            mean = conv.weight.mean(dim=1, keepdim=True)
            new.weight.copy_(mean.repeat(1, in_channels, 1, 1) * (conv.in_channels / in_channels))
            if conv.bias is not None and new.bias is not None:
                new.bias.copy_(conv.bias)
    _set_submodule(model, path, new)


def _torchvision_stages(model: nn.Module) -> dict[str, str]:
    """Stage taps of torchvision architectures that have stages: ResNet-like and RegNet."""
    names = dict(model.named_modules())
    for template in ("layer{}", "trunk_output.block{}"):
        paths = [template.format(i) for i in range(1, 5)]
        if all(path in names for path in paths):
            return {f"stage{i}": path for i, path in enumerate(paths, start=1)}
    return {}


def torchvision_arch(name: str, params: TorchvisionParams) -> tuple[str, Any]:
    """The torchvision architecture and weights enum member (or None), checked without loading
    anything (also before any data loads)."""
    import torchvision
    from torchvision.models import get_model_weights, list_models

    arch = parse_name(TORCHVISION_PATTERN, name, "torchvision")["arch"]
    known = list_models(module=torchvision.models)
    if arch not in known:
        raise _unknown(name, arch, known, "torchvision")
    torchvision_classifier(name, arch)
    if params.weights is None:
        return arch, None
    enum = get_model_weights(arch)
    try:
        return arch, enum[params.weights]
    except KeyError:
        options = ", ".join(["DEFAULT", *(w.name for w in enum)])
        raise ParamError(f"{name}: torchvision has no weights {params.weights!r} for "
                         f"{arch} (known: {options})", "weights") from None


def build_torchvision(name: str, params: TorchvisionParams, *, in_channels: int, image_size: int,
                      num_classes: int) -> nn.Module:
    """``torchvision/<name>`` with ``num_classes`` outputs and ``in_channels`` inputs; with
    ``weights``, the pretrained model with its classifier replaced when the classes differ."""
    from torchvision.models import get_model

    arch, weights = torchvision_arch(name, params)
    if weights is None or _shapes_only():
        model = get_model(arch, num_classes=num_classes)
    else:
        try:
            model = get_model(arch, weights=weights)
        except OSError as error:
            raise KdbenchError(f"{name}: could not load weights {weights.name} from {weights.url} "
                               f"({error}); put the file in {torch.hub.get_dir()}/checkpoints "
                               "or connect to the network") from None
    classifier = torchvision_classifier(name, arch)
    if weights is not None and len(weights.meta["categories"]) != num_classes:
        _replace_head(model, classifier, num_classes)
    _adapt_input(model, in_channels, pretrained=weights is not None)
    taps = _torchvision_stages(model)
    taps["penultimate"] = attach_penultimate(model, classifier)
    model.feature_taps = taps
    model.model_cfg = ModelCfg(classifier, HINT_STAGE if HINT_STAGE in taps else None)
    return model


def _timm_stages(model: nn.Module) -> dict[str, str]:
    """Stage taps from timm's ``feature_info``, leaving out stride-2 stems."""
    names = dict(model.named_modules())
    paths = [info["module"] for info in getattr(model, "feature_info", None) or []
             if info.get("reduction", 4) >= 4 and info.get("module") in names]
    return {f"stage{i}": path for i, path in enumerate(paths, start=1)}


def timm_arch(name: str, params: TimmParams | None = None) -> str:
    """The timm architecture of ``timm/<name>``, checked (also before any data loads)."""
    import timm

    arch = parse_name(TIMM_PATTERN, name, "timm")["arch"]
    if not timm.is_model(arch):
        raise _unknown(name, arch, timm.list_models(), "timm")
    return arch


def build_timm(name: str, params: TimmParams, *, in_channels: int, image_size: int,
               num_classes: int) -> nn.Module:
    """``timm/<name>`` from ``timm.create_model`` with ``num_classes`` and ``in_chans`` set."""
    import timm

    arch = timm_arch(name, params)
    try:
        model = timm.create_model(arch, pretrained=params.pretrained and not _shapes_only(),
                                  num_classes=num_classes,
                                  in_chans=in_channels)
    except OSError as error:
        raise KdbenchError(f"{name}: could not load timm's pretrained weights ({error}); "
                           "download them once with network access") from None
    classifier = timm_classifier(name, model)
    taps = _timm_stages(model)
    reductions = [info.get("reduction") for info in getattr(model, "feature_info", None) or []]
    hierarchical = len(set(reductions)) == len(reductions) > 2  # stages that downsample
    taps["penultimate"] = attach_penultimate(model, classifier)
    # torch types Module.__setattr__ for tensors and modules only; plain attributes are allowed too
    model.feature_taps = taps  # type: ignore[assignment]
    model.model_cfg = ModelCfg(  # type: ignore[assignment]
        classifier, HINT_STAGE if hierarchical and HINT_STAGE in taps else None)
    return model


def timm_classifier(name: str, model: nn.Module) -> str:
    """The classifier's module path that a timm model declares in ``pretrained_cfg['classifier']``
    (the first head of a distilled model, which has two)."""
    declared = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    path = declared[0] if isinstance(declared, (tuple, list)) and declared else declared
    if not isinstance(path, str) or path not in dict(model.named_modules()):
        raise KdbenchError(f"{name}: timm declares no classifier module for this model "
                           f"(pretrained_cfg['classifier'] is {declared!r})")
    return path
