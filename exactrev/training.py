"""Trained targets, as in the paper's experiments: a small numpy MLP trainer (Adam, softmax
cross-entropy, full batch) for the memorisation task and for scikit-learn's digits (in place of MNIST).

The trained float weights are rounded to float32 — as a deployed model would hold them — and read
as the exact dyadic rationals they are, so the returned `Network` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .network import Network
from .random_net import validate_widths


@dataclass
class TrainedTarget:
    """A trained network with the data it was trained on and its final training accuracy."""

    network: Network
    accuracy: float
    inputs: np.ndarray
    labels: np.ndarray


def memorisation_task(n_points: int = 1000, n_in: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The paper's memorisation task: Gaussian points in R^n_in with arbitrary binary labels."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_points, n_in)), rng.integers(0, 2, size=n_points)


def train_mlp(widths: Sequence[int], inputs: np.ndarray, labels: np.ndarray, *, epochs: int = 1000,
              lr: float = 1e-2, seed: int = 0) -> TrainedTarget:
    """Train a ReLU MLP with Adam on softmax cross-entropy (full batch); He initialisation as in the paper."""
    validate_widths(widths)
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        params += [rng.normal(0, np.sqrt(2 / fan_in), (fan_out, fan_in)), rng.normal(0, 1, fan_out)]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    onehot = np.eye(widths[-1])[labels]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, epochs + 1):
        grads = _gradients(params, inputs, onehot)
        for i, (p, g) in enumerate(zip(params, grads)):
            m, v = moments[i]
            m[:] = beta1 * m + (1 - beta1) * g
            v[:] = beta2 * v + (1 - beta2) * g * g
            p -= lr * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + eps)
    logits = _forward(params, inputs)[-1]
    accuracy = float(np.mean(np.argmax(logits, axis=1) == labels))
    weights = [p.astype(np.float32) for p in params[0::2]]
    biases = [p.astype(np.float32) for p in params[1::2]]
    net = Network.from_arrays(weights, biases, meta={"trained": True, "accuracy": accuracy, "epochs": epochs})
    return TrainedTarget(net, accuracy, inputs, labels)


def _forward(params: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Activations of every layer (input first, logits last)."""
    acts = [x]
    n_layers = len(params) // 2
    for k in range(n_layers):
        z = acts[-1] @ params[2 * k].T + params[2 * k + 1]
        acts.append(np.maximum(z, 0) if k < n_layers - 1 else z)
    return acts


def _gradients(params: list[np.ndarray], x: np.ndarray, onehot: np.ndarray) -> list[np.ndarray]:
    """Backpropagation of mean softmax cross-entropy."""
    acts = _forward(params, x)
    logits = acts[-1]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = (p - onehot) / len(x)
    grads: list[np.ndarray] = [None] * len(params)  # type: ignore[list-item]
    for k in reversed(range(len(params) // 2)):
        grads[2 * k] = delta.T @ acts[k]
        grads[2 * k + 1] = delta.sum(axis=0)
        if k:
            delta = (delta @ params[2 * k]) * (acts[k] > 0)
    return grads


def trained_memorisation_network(widths: Sequence[int] = (10, 20, 20, 2), *, epochs: int = 1000,
                                 seed: int = 0) -> TrainedTarget:
    """10-in, 2-out network trained on the memorisation task (1000 points), as in the paper."""
    x, y = memorisation_task(1000, widths[0], seed=seed)
    return train_mlp(widths, x, y, epochs=epochs, seed=seed)


def trained_digits_network(widths: Sequence[int] = (64, 32, 16, 10), *, epochs: int = 300,
                           seed: int = 0) -> TrainedTarget:
    """A digits classifier (scikit-learn's 8x8 digits, pixels scaled to [0, 1]) in place of MNIST."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return train_mlp(widths, digits.data / 16.0, digits.target, epochs=epochs, seed=seed)
