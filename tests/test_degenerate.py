"""The catalogue of additional isomorphisms: same function, different canonical forms, named by the checks."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from exactrev import ExactrevError, canonical_form, certify, check_assumptions, degenerate

CASES = degenerate.catalogue()


def test_catalogue_has_the_cases_the_issue_lists():
    names = {c.name for c in CASES}
    assert {"dead_neuron", "always_active_folded", "duplicate_merged", "zero_outgoing"} <= names
    assert {f"section52_case{i}" for i in range(1, 5)} <= names
    net, twin, text = degenerate.case("dead_neuron")
    assert net.widths[0] == twin.widths[0] and text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_twin_computes_the_same_function_but_is_not_isomorphic(case):
    rng = random.Random(case.name)
    pts = [[Fraction(rng.randint(-2000, 2000), 97) for _ in range(case.network.input_dim)] for _ in range(300)]
    assert case.network.evaluate_batch(pts) == case.twin.evaluate_batch(pts)
    assert canonical_form(case.network) != canonical_form(case.twin)
    cert = certify(case.network, case.twin)
    assert (cert.verdict, cert.method, cert.complete) == ("equivalent", "regions", True)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_assumptions_names_the_case(case):
    report = check_assumptions(case.network)
    assert report.exhaustive
    assert report[case.check].status == "fails"
    assert case.check in report.failed
    # An additional isomorphism leaves some parameter direction unidentifiable.
    assert report["functional_dimension"].status == "fails"


def test_changing_the_free_parameter_beyond_its_range_breaks_equivalence():
    # Case 1: the weight z -> z' may be any value <= 0; a positive value changes the function.
    case = degenerate.section52_case1()
    weights = [list(map(list, w)) for w in case.network.weights]
    weights[1][0][0] = Fraction(1)
    broken = type(case.network)(weights, case.network.biases)
    cert = certify(case.network, broken, samples=0)
    assert cert.verdict == "different"
    assert case.network(cert.witness) != broken(cert.witness)


def test_unknown_case_name_is_an_error():
    with pytest.raises(ExactrevError, match="section52_case1"):
        degenerate.case("nope")
