"""Loss formulas written out independently in float64 numpy, to check the methods against."""

from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(logits: np.ndarray, labels: np.ndarray, smoothing: float = 0.0) -> float:
    """mean_i -sum_c q_ic log p_ic with q = (1 - eps) one_hot + eps / C."""
    p = softmax(logits)
    classes = logits.shape[1]
    total = 0.0
    for i, label in enumerate(labels):
        q = np.full(classes, smoothing / classes)
        q[label] += 1 - smoothing
        total += -np.sum(q * np.log(p[i]))
    return total / len(labels)


def kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) of two discrete distributions."""
    return float(np.sum(p * (np.log(p) - np.log(q))))


def kd(student: np.ndarray, teacher: np.ndarray, temperature: float) -> float:
    """T^2 * mean_i KL(softmax(t_i / T) || softmax(s_i / T))."""
    values = [kl(softmax(t / temperature), softmax(s / temperature))
              for s, t in zip(student, teacher, strict=True)]
    return temperature**2 * float(np.mean(values))


def nce(scores: np.ndarray, nce_t: float, n_data: int, z: float) -> float:
    """CRD's NCE loss: P = exp(score / nce_t) / Z, noise m * Pn = K / N, the positive first."""
    k = scores.shape[1] - 1
    noise = k / n_data
    total = 0.0
    for row in scores:
        p = np.exp(row / nce_t) / z
        total -= np.log(p[0] / (p[0] + noise))
        total -= sum(np.log(noise / (p[j] + noise)) for j in range(1, k + 1))
    return total / len(scores)


def crd(student: np.ndarray, teacher: np.ndarray, student_memory: np.ndarray,
        teacher_memory: np.ndarray, index: np.ndarray, nce_t: float, z: tuple[float, float]) -> float:
    """Student anchors against teacher memory rows plus teacher anchors against student rows."""
    s_scores = np.array([[student[i] @ teacher_memory[j] for j in row] for i, row in enumerate(index)])
    t_scores = np.array([[teacher[i] @ student_memory[j] for j in row] for i, row in enumerate(index)])
    n = len(student_memory)
    return nce(s_scores, nce_t, n, z[0]) + nce(t_scores, nce_t, n, z[1])
