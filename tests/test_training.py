"""Trained targets: the trainer really learns, and the exported network is exactly its float32 weights."""

from fractions import Fraction

import numpy as np

from exactrev.training import memorisation_task, train_mlp, trained_digits_network


def test_memorisation_training_learns_and_exports_float32_exactly():
    x, y = memorisation_task(200, 10, seed=1)
    target = train_mlp([10, 16, 16, 2], x, y, epochs=300, seed=1)
    assert target.accuracy > 0.8            # well above the 0.5 of guessing: the trainer learns
    for w in target.network.weights:
        for row in w:
            for v in row:
                assert Fraction(float(np.float32(v))) == v   # each weight is an exact float32 value
    exact = np.array([[float(v) for v in out] for out in target.network.evaluate_batch(x[:20].tolist())])
    assert np.allclose(exact, target.network.evaluate_float(x[:20]), rtol=1e-12, atol=1e-12)


def test_digits_classifier_has_the_papers_shape_and_learns():
    target = trained_digits_network(epochs=60)
    assert target.network.widths == [64, 32, 16, 10]
    assert target.accuracy > 0.8
