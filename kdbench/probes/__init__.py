"""Property probes (Ojha et al., NeurIPS 2023): what a student takes from its teacher beyond
accuracy, measured after training against a student trained without the teacher."""

from __future__ import annotations

from kdbench.types import ProbeInfo


def builtin_probes() -> list[ProbeInfo]:
    """The probes kdbench registers through its own ``builtin`` plugin."""
    from kdbench.probes import adversarial, errors, gradcam, invariance

    return [
        ProbeInfo("invariance", "agreement of predictions on x and T(x) (rotation, colour, "
                  "contrast, translation) and accuracy on T(x)", invariance.invariance,
                  invariance.UNITS, invariance.InvarianceParams),
        ProbeInfo("adversarial-transfer", "percent of the teacher's FGSM/PGD (L-inf) adversarial "
                  "examples that also fool the student", adversarial.adversarial, adversarial.UNITS,
                  adversarial.AdversarialParams),
        ProbeInfo("error-agreement", "percent of the teacher's errors the student repeats",
                  errors.error_agreement, errors.UNITS),
        ProbeInfo("gradcam", "percent of images whose teacher Grad-CAM is closer to the student's "
                  "than to an independent student's", gradcam.localisation, gradcam.UNITS,
                  gradcam.GradCAMParams, needs_reference=True),
    ]
