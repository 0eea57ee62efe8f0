"""Model families, one module each, registered through kdbench's own ``builtin`` plugin."""

from kdbench.types import ModelInfo


def builtin_models() -> list[ModelInfo]:
    """The model families kdbench registers through its own ``builtin`` plugin."""
    from kdbench.models import (
        external,
        lenet,
        mlp,
        mobilenetv2,
        preresnet,
        resnet_cifar,
        resnet_imagenet_cifar,
        shufflenetv1,
        shufflenetv2,
        vgg,
        wrn,
    )

    return [
        ModelInfo("lenet5", "LeNet-5 (Stanton et al. 2021) with a width multiplier",
                  lenet.build_lenet5, lenet.LeNet5Params, example="lenet5"),
        ModelInfo("mlp", "multilayer perceptron on flattened pixels", mlp.build_mlp,
                  mlp.MLPParams, example="mlp"),
        ModelInfo("wrn", "Wide ResNet (Zagoruyko & Komodakis 2016), CIFAR variant: depth 6n+4, "
                  "widening factor k", wrn.build_wrn, wrn.WRNParams, pattern=wrn.PATTERN,
                  example="wrn-40-2", check=wrn.depth_k),
        ModelInfo("resnet", "CIFAR ResNet (He et al. 2016): depth 6n+2, widths 16/32/64, "
                  "option-A shortcuts unless told", resnet_cifar.build_resnet,
                  resnet_cifar.ResNetParams, pattern=resnet_cifar.PATTERN, example="resnet56",
                  check=resnet_cifar.resnet_blocks),
        ModelInfo("resnet-x4", "RepDistiller's wide CIFAR ResNet (CRD): depth 6n+2, widths "
                  "64/128/256", resnet_cifar.build_resnet_x4, resnet_cifar.ResNetX4Params,
                  pattern=resnet_cifar.PATTERN_X4, example="resnet32x4",
                  check=resnet_cifar.resnet_x4_blocks),
        ModelInfo("preresnet", "pre-activation CIFAR ResNet (Stanton et al. 2021): basic blocks "
                  "below depth 44, bottleneck from 44", preresnet.build_preresnet,
                  preresnet.PreResNetParams, pattern=preresnet.PATTERN, example="preresnet56",
                  check=preresnet.layout),
        ModelInfo("vgg", "CIFAR VGG with batch norm (RepDistiller): depth 8, 11, 13, 16 or 19",
                  vgg.build_vgg, pattern=vgg.PATTERN, example="vgg13", check=vgg.stages),
        ModelInfo("mobilenetv2", "MobileNetV2 (Sandler et al. 2018) in RepDistiller's CIFAR form, "
                  "width multiplier in the name (mobilenetv2-w0.5: RepDistiller's mobile_half)",
                  mobilenetv2.build_mobilenetv2, mobilenetv2.MobileNetV2Params,
                  pattern=mobilenetv2.PATTERN, example="mobilenetv2-w0.5", check=mobilenetv2.width),
        ModelInfo("shufflenetv1", "ShuffleNet (Zhang et al. 2018), g = 3, in RepDistiller's CIFAR "
                  "form (ShuffleV1)", shufflenetv1.build_shufflenetv1, example="shufflenetv1"),
        ModelInfo("shufflenetv2", "ShuffleNet V2 (Ma et al. 2018) in RepDistiller's CIFAR form "
                  "(ShuffleV2), width 0.5 to 2", shufflenetv2.build_shufflenetv2,
                  shufflenetv2.ShuffleNetV2Params, example="shufflenetv2"),
        ModelInfo("resnet-cifar", "ImageNet ResNet layouts (He et al. 2016) with a CIFAR stem, as "
                  "RepDistiller's resnetv2 (resnet50-cifar: its ResNet50): depth 18, 34, 50, 101, 152",
                  resnet_imagenet_cifar.build_resnet_imagenet_cifar,
                  pattern=resnet_imagenet_cifar.PATTERN, example="resnet50-cifar",
                  check=resnet_imagenet_cifar.layout),
        ModelInfo("torchvision", "any torchvision classification model, optionally pretrained",
                  external.build_torchvision, external.TorchvisionParams,
                  pattern=external.TORCHVISION_PATTERN, example="torchvision/resnet18",
                  check=external.torchvision_arch),
        ModelInfo("timm", "any timm model, optionally pretrained", external.build_timm,
                  external.TimmParams, pattern=external.TIMM_PATTERN, example="timm/resnet18",
                  check=external.timm_arch),
    ]
