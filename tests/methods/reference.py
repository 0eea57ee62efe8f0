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


# The feature methods of the CRD table, transcribed from the papers' formulas as RepDistiller
# (distiller_zoo/*.py) computes them, one loop per sum, in float64.

def block_mean(f: np.ndarray, size: int) -> np.ndarray:
    """Average pooling of maps (N, C, H, H) to (N, C, size, size), H a multiple of size."""
    n, c, h, _ = f.shape
    k = h // size
    return f.reshape(n, c, size, k, size, k).mean(axis=(3, 5))


def same_size(s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    size = min(s.shape[2], t.shape[2])
    return block_mean(s, size), block_mean(t, size)


def attention_transfer(student: list[np.ndarray], teacher: list[np.ndarray], p: float = 2.0) -> float:
    """sum over pairs of mean_(n, k) (Q_s / ||Q_s|| - Q_t / ||Q_t||)^2, Q = mean_c |A_c|^p flattened."""
    total = 0.0
    for s, t in zip(student, teacher, strict=True):
        s, t = same_size(s, t)
        for n in range(len(s)):
            q_s, q_t = (s[n] ** p).mean(axis=0).ravel(), (t[n] ** p).mean(axis=0).ravel()
            diff = q_s / np.linalg.norm(q_s) - q_t / np.linalg.norm(q_t)
            total += np.sum(diff**2) / (len(s) * diff.size)
    return total


def similarity_preserving(student: np.ndarray, teacher: np.ndarray) -> float:
    """||G~_t - G~_s||_F^2 / b^2, G = Q Q^T of the flattened features, G~ its rows normalized."""
    b = len(student)
    grams = []
    for f in (student.reshape(b, -1), teacher.reshape(b, -1)):
        g = np.array([[f[i] @ f[j] for j in range(b)] for i in range(b)])
        grams.append(g / np.linalg.norm(g, axis=1, keepdims=True))
    return float(np.sum((grams[1] - grams[0]) ** 2) / b**2)


def smooth_l1(x: np.ndarray, y: np.ndarray) -> float:
    d = np.abs(x - y)
    return float(np.mean(np.where(d < 1, 0.5 * d**2, d - 0.5)))


def relational(student: np.ndarray, teacher: np.ndarray, w_d: float = 25.0, w_a: float = 50.0) -> float:
    """w_d * smooth-L1 of the distances psi_D = ||x_i - x_j|| / mu (mu their mean over i != j)
    plus w_a * smooth-L1 of the angles psi_A = <e_ij, e_ik>, e_ij = (x_j - x_i) / ||x_j - x_i||."""
    def distances(x):
        n = len(x)
        d = np.array([[np.linalg.norm(x[i] - x[j]) for j in range(n)] for i in range(n)])
        return d / (d.sum() / (n * (n - 1)))

    def angles(x):
        n = len(x)
        e = np.zeros((n, n, x.shape[1]))
        for i in range(n):
            for j in range(n):
                if i != j:
                    e[i, j] = (x[j] - x[i]) / np.linalg.norm(x[j] - x[i])
        return np.array([[[e[i, j] @ e[i, k] for k in range(n)] for j in range(n)] for i in range(n)])

    s, t = student.reshape(len(student), -1), teacher.reshape(len(teacher), -1)
    return w_d * smooth_l1(distances(s), distances(t)) + w_a * smooth_l1(angles(s), angles(t))


def probabilistic_transfer(student: np.ndarray, teacher: np.ndarray, eps: float = 1e-7) -> float:
    """mean_(i, j) p_t log((p_t + eps) / (p_s + eps)), p_(j|i) = K(x_i, x_j) / sum_k K(x_i, x_k)
    with the cosine kernel K = (cos + 1) / 2."""
    def conditional(x):
        unit = x / (np.linalg.norm(x, axis=1, keepdims=True) + eps)
        k = (unit @ unit.T + 1) / 2
        return k / k.sum(axis=1, keepdims=True)

    p_s, p_t = conditional(student), conditional(teacher)
    return float(np.mean(p_t * np.log((p_t + eps) / (p_s + eps))))


def neuron_selectivity(student: list[np.ndarray], teacher: list[np.ndarray]) -> float:
    """sum over pairs of the squared MMD with k(x, y) = (x^T y)^2 between the channels f_i (each
    L2-normalized over space) of the two maps, averaged over the batch."""
    total = 0.0
    for s, t in zip(student, teacher, strict=True):
        s, t = same_size(s, t)
        for n in range(len(s)):
            fs = [c.ravel() / np.linalg.norm(c) for c in s[n]]
            ft = [c.ravel() / np.linalg.norm(c) for c in t[n]]
            k = lambda a, b: np.mean([[(x @ y) ** 2 for y in b] for x in a])  # noqa: E731
            total += (k(ft, ft) + k(fs, fs) - 2 * k(fs, ft)) / len(s)
    return total


def variational(mean: np.ndarray, target: np.ndarray, log_scale: np.ndarray, eps: float = 1e-5) -> float:
    """-log N(t | mu, sigma_c^2) without 0.5 log(2 pi), averaged over every entry;
    sigma_c^2 = log(1 + exp(alpha_c)) + eps."""
    var = np.log1p(np.exp(log_scale)) + eps
    total = 0.0
    for n, c, h, w in np.ndindex(*mean.shape):
        total += 0.5 * ((mean[n, c, h, w] - target[n, c, h, w]) ** 2 / var[c] + np.log(var[c]))
    return total / mean.size


def correlation(student: np.ndarray, teacher: np.ndarray) -> float:
    """RepDistiller's CC: (1 / (b - 1)) sum_i sum_k |s - t|_ik |s - t|_(i+1)k."""
    d = np.abs(student - teacher)
    return float(sum(d[i] @ d[i + 1] for i in range(len(d) - 1)) / (len(d) - 1))


def factor_transfer(student: np.ndarray, teacher: np.ndarray) -> float:
    """RepDistiller's FT loss of two factors: mean_(n, k) |Q_s / ||Q_s|| - Q_t / ||Q_t|||, with
    Q = mean_c F_c^2 flattened (the factors' attention maps, p1 2, p2 1)."""
    s, t = same_size(student, teacher)
    total = 0.0
    for n in range(len(s)):
        q_s, q_t = (s[n] ** 2).mean(axis=0).ravel(), (t[n] ** 2).mean(axis=0).ravel()
        total += np.abs(q_s / np.linalg.norm(q_s) - q_t / np.linalg.norm(q_t)).sum() / (len(s) * q_s.size)
    return total
