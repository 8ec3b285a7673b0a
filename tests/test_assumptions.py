"""check_assumptions: every "fails" rests on an exact witness, every "holds" on a complete enumeration or witnesses."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from exactrev import Network, certify, check_assumptions, random_network
from exactrev.assumptions import without_dead_neurons
from exactrev.cli import main

F = Fraction


def net_from(layers):
    return Network([[[F(v) for v in row] for row in w] for w, _ in layers], [[F(v) for v in b] for _, b in layers])


def test_report_lists_every_check_with_a_status_and_evidence():
    report = check_assumptions(random_network([2, 4, 3, 1], seed=1))
    names = [c.name for c in report.checks]
    assert names == ["zero_rows", "zero_columns", "duplicate_neurons", "general_position", "dead_neurons",
                     "always_active", "section52_case1", "section52_case2", "section52_case3",
                     "section52_case4", "functional_dimension"]
    assert all(c.status in ("holds", "fails", "unknown") and c.evidence for c in report.checks)
    d = report.to_dict()
    assert d["widths"] == [2, 4, 3, 1] and len(d["checks"]) == len(names)
    text = report.to_text()
    assert all(c.title in text for c in report.checks)


def test_structural_defects_are_named():
    # neuron 2: zero row (constant 1); neuron 3: duplicate of neuron 1 (x2); neuron 4: no outgoing weight.
    net = net_from([([[1, 0], [0, 0], [2, 0], [0, 1]], [1, 1, 2, 0]), ([[1, 1, 1, 0]], [0])])
    report = check_assumptions(net)
    assert report["zero_rows"].items == ["layer 1 neuron 2"]
    assert report["zero_columns"].items == ["layer 1 neuron 4"]
    assert "layer 1 neuron 1 and layer 1 neuron 3" in report["duplicate_neurons"].evidence
    assert report["general_position"].status == "fails"
    assert report["always_active"].items == ["layer 1 neuron 2"]


def test_three_lines_through_one_point_violate_general_position():
    net = net_from([([[1, 0], [0, 1], [1, 1]], [-1, -1, -2]), ([[1, 1, 1]], [0])])
    check = check_assumptions(net)["general_position"]
    assert check.status == "fails" and "one point" in check.evidence
    generic = net_from([([[1, 0], [0, 1], [1, 1]], [-1, -1, -3]), ([[1, 1, 1]], [0])])
    assert check_assumptions(generic)["general_position"].status == "holds"


def test_dead_neuron_fails_exactly_and_is_unknown_without_full_coverage():
    # layer 2 neuron 2: relu(x - 1) - relu(x) - 1 < 0 everywhere, though one of its weights is positive
    net = net_from([([[1, 0], [-1, 0], [1, 0], [0, 1]], [0, 0, -1, 0]),
                    ([[1, 1, 1, 1], [-1, 0, 1, 0]], [0, -1]), ([[1, 1]], [0])])
    full = check_assumptions(net)
    assert full.exhaustive and full["dead_neurons"].items == ["layer 2 neuron 2"]
    assert full["dead_neurons"].status == "fails"
    partial = check_assumptions(net, max_regions=1, samples=0)
    assert not partial.exhaustive
    assert partial["dead_neurons"].status == "unknown"


def test_neurons_silent_by_the_signs_of_their_weights_fail_without_any_enumeration():
    """Layer 2 neuron 2 (weights and bias <= 0) is dead, layer 2 neuron 1 (all >= 0) and layer 3 neuron 1 (its only
    negative weight from that dead neuron, bias >= 0) never inactive, and layer 3 neuron 2 (positive weight only
    from the dead one) dead: proven with one region enumerated and no samples, and true at every point evaluated;
    layer 2 neuron 3 (mixed signs) is neither."""
    net = net_from([([[1, 0], [-1, 0], [0, 1]], [0, 0, 0]),
                    ([[1, 1, 1], [-1, -1, -1], [1, -2, 1]], [0, -1, "1/2"]),
                    ([[2, -3, 1], [-1, 5, 0]], [0, -2]), ([[1, 1]], [0])])
    report = check_assumptions(net, max_regions=1, samples=0)
    assert not report.exhaustive
    dead, always = report["dead_neurons"], report["always_active"]
    assert dead.status == always.status == "fails"
    assert dead.items == ["layer 2 neuron 2", "layer 3 neuron 2"] and always.items == ["layer 2 neuron 1", "layer 3 neuron 1"]
    assert "no witness yet" in dead.evidence
    pre = net.preactivations_batch([[F(i, 3), F(j, 3)] for i in range(-30, 31) for j in range(-30, 31)])
    assert all(p[1][1] <= 0 and p[2][1] <= 0 and p[1][0] >= 0 and p[2][0] >= 0 for p in pre)
    assert min(p[1][2] for p in pre) < 0 < max(p[1][2] for p in pre)


def test_a_proven_dead_neuron_is_removed_without_changing_the_function():
    net = net_from([([[1, 0], [-1, 0], [0, 1]], [0, 0, 0]),
                    ([[1, 1, 1], [-1, -1, -1], [1, -1, 2]], [0, -1, 1]), ([[1, 3, -2]], [0])])
    live, removed = without_dead_neurons(net, check_assumptions(net))
    assert removed == [(2, 1)] and live.widths == [2, 3, 2, 1]
    assert live.weights[2] == ((F(1), F(-2)),)
    assert certify(net, live).verdict == "equivalent"
    assert without_dead_neurons(net, check_assumptions(net, max_regions=1, samples=0)) == (live, removed)


def test_functional_dimension_of_a_generic_network_reaches_the_bound():
    net = net_from([([[1, 2], [-3, 1], [1, -1]], [1, "1/2", "-1/3"]), ([[1, -2, 3]], ["1/5"])])
    check = check_assumptions(net)["functional_dimension"]
    assert check.status == "holds"
    assert str(net.functional_dimension_bound) in check.evidence


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 10_000))
def test_fails_verdicts_are_backed_by_exact_evaluation(seed):
    net = random_network([2, 4, 3, 1], seed=seed, bits=6)
    report = check_assumptions(net)
    pts = [[F(i, 4), F(j, 4)] for i in range(-40, 41, 5) for j in range(-40, 41, 5)]
    pre = net.preactivations_batch(pts)
    for k, layer in enumerate(net.weights[:-1]):
        for j in range(len(layer)):
            name = f"layer {k + 1} neuron {j + 1}"
            if name in report["dead_neurons"].items:
                assert all(p[k][j] <= 0 for p in pre)
            if name in report["always_active"].items:
                assert all(p[k][j] >= 0 for p in pre)
    for item in report["section52_case1"].items if report["section52_case1"].status == "fails" else []:
        (k1, j1), (k2, j2) = [tuple(int(t) - 1 for t in part.split()[1::2]) for part in item.split(" -> ")]
        assert not any(p[k1][j1] > 0 and p[k2][j2] > 0 for p in pre)


def test_cli_check_assumptions(tmp_path, capsys):
    path = tmp_path / "net.json"
    random_network([2, 3, 2, 1], seed=5).save(path)
    assert main(["check", str(path), "--assumptions"]) == 0
    out = capsys.readouterr().out
    assert "functional dimension" in out and "section 5.2 case 1" in out
