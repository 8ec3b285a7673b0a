"""Extraction of trained networks (the paper's memorisation and digits targets), not only He-initialised ones."""

from __future__ import annotations

import pytest

from exactrev import Oracle, canonical_form, certify, extract
from exactrev.training import trained_digits_network, trained_memorisation_network


def _recovered_exactly(net, seed: int = 0) -> None:
    result = extract(Oracle.from_network(net), seed=seed)
    assert result.status == "complete" and result.unidentified == []
    assert canonical_form(result.network) == canonical_form(net)
    assert certify(result.network, net).verdict == "equivalent"


def test_small_memorisation_network_is_recovered_exactly():
    """Trained float32 weights are dyadic rationals: a trained 10-8-8-2 is recovered weight for weight."""
    _recovered_exactly(trained_memorisation_network((10, 8, 8, 2), epochs=300).network)


@pytest.mark.slow
def test_papers_memorisation_network_is_recovered_exactly():
    """The paper's memorisation set-up, 10-20-20-2 (about 30 s)."""
    _recovered_exactly(trained_memorisation_network((10, 20, 20, 2), epochs=300).network)


@pytest.mark.slow
def test_digits_classifier_is_recovered_exactly():
    """The digits classifier 64-32-16-10 (100 epochs; about 3 minutes)."""
    _recovered_exactly(trained_digits_network((64, 32, 16, 10), epochs=100).network)
