"""A catalogue of degenerate networks and additional isomorphisms (beyond permutation and scaling).

Each named constructor returns a `DegenerateCase`: a network, a twin that computes exactly the same
function but is *not* a permutation/scaling of it (their canonical forms differ), the check of
`exactrev.check_assumptions` that names the degeneracy, and a short explanation.  They are the
examples behind section 3.1 ("some networks may have additional isomorphisms") and section 5.2
of Rolnick & Kording (2020): no query-based method can tell a network from its twin.

All live on R^2 with the same three first-layer neurons unless stated:
h1 = ReLU(x1), h2 = ReLU(-x1), h3 = ReLU(x2 - 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from .errors import ExactrevError
from .network import Network

_H_W = [[1, 0], [-1, 0], [0, 1]]
_H_B = [0, 0, -1]


@dataclass(frozen=True)
class DegenerateCase:
    """A network, a non-isomorphic twin computing the same function, and why."""

    name: str
    network: Network
    twin: Network
    check: str          # the exactrev.check_assumptions check that fails on `network`
    explanation: str

    def __iter__(self):
        """Unpacks as (network, twin, explanation)."""
        return iter((self.network, self.twin, self.explanation))


def _net(layers: list[tuple[list, list]], name: str) -> Network:
    return Network([[[Fraction(v) for v in row] for row in w] for w, _ in layers],
                   [[Fraction(v) for v in b] for _, b in layers], {"catalogue": name}, source=name)


def dead_neuron() -> DegenerateCase:
    """A layer-2 neuron that is never active: its weights (in and out) are arbitrary."""
    a = _net([(_H_W, _H_B), ([[1, 0, 1], [-1, -1, 0]], ["-1/2", -1]), ([[1, 2]], [0])], "dead_neuron")
    b = _net([(_H_W, _H_B), ([[1, 0, 1], [-1, -2, -1]], ["-1/2", -3]), ([[1, -5]], [0])], "dead_neuron twin")
    return DegenerateCase("dead_neuron", a, b, "dead_neurons",
                          "Layer 2 neuron 2 computes ReLU(-h1 - h2 - 1) = ReLU(-|x1| - 1) = 0 everywhere, so its "
                          "incoming and outgoing weights can be anything: the twin changes both.")


def always_active_folded() -> DegenerateCase:
    """An always-active neuron is affine; its constant part can move into the next layer's bias."""
    a = _net([(_H_W, _H_B), ([[1, 0, 1], [1, 1, 0]], ["-1/2", 1]), ([[1, 3]], [0])], "always_active_folded")
    b = _net([(_H_W, _H_B), ([[1, 0, 1], [1, 1, 0]], ["-1/2", 2]), ([[1, 3]], [-3])], "always_active_folded twin")
    return DegenerateCase("always_active_folded", a, b, "always_active",
                          "Layer 2 neuron 2 computes ReLU(h1 + h2 + 1) = |x1| + 1 >= 1, so its ReLU is the identity: "
                          "raising its bias by 1 and lowering the output bias by its outgoing weight (3) "
                          "folds the difference into the next layer without changing the function.")


def duplicate_merged() -> DegenerateCase:
    """Two first-layer neurons with proportional rows act as one neuron; the twin merges them."""
    a = _net([([[1, 0], [2, 0], [0, 1]], [0, 0, -1]), ([[1, 3, -1]], [0])], "duplicate_merged")
    b = _net([([[1, 0], [0, 1]], [0, -1]), ([[7, -1]], [0])], "duplicate_merged twin")
    return DegenerateCase("duplicate_merged", a, b, "duplicate_neurons",
                          "ReLU(x1) and ReLU(2 x1) = 2 ReLU(x1) are duplicates up to scaling: 1*ReLU(x1) + "
                          "3*ReLU(2 x1) = 7 ReLU(x1), so the twin has one neuron fewer (only the sum of the "
                          "duplicates' outgoing weights is identifiable).")


def zero_outgoing() -> DegenerateCase:
    """A neuron with zero outgoing weights has no effect: its incoming weights are arbitrary."""
    a = _net([([[1, 0], [-1, 1], [0, 1]], [0, 0, -1]), ([[1, 0, 2]], [0])], "zero_outgoing")
    b = _net([([[1, 0], [3, 1], [0, 1]], [0, 5, -1]), ([[1, 0, 2]], [0])], "zero_outgoing twin")
    return DegenerateCase("zero_outgoing", a, b, "zero_columns",
                          "Layer 1 neuron 2 has outgoing weight 0, so nothing downstream sees it; the twin gives "
                          "it other incoming weights and bias.")


def section52_case1() -> DegenerateCase:
    """Case 1 of section 5.2: whenever z is active, z' is inactive; the weight z -> z' is free."""
    a = _net([(_H_W, _H_B), ([[-1, 1, 0], [1, 0, 1]], [-1, "-1/2"]), ([[1, 1]], [0])], "section52_case1")
    b = _net([(_H_W, _H_B), ([[-2, 1, 0], [1, 0, 1]], [-1, "-1/2"]), ([[1, 1]], [0])], "section52_case1 twin")
    return DegenerateCase("section52_case1", a, b, "section52_case1",
                          "z = h1 = ReLU(x1) and z' = ReLU(-h1 + h2 - 1): wherever z > 0 (x1 > 0), z' has "
                          "pre-activation -x1 - 1 < 0, so B_z and B_z' never meet and the weight z -> z' "
                          "(-1 here, -2 in the twin) only needs to stay <= 0.")


def section52_case2() -> DegenerateCase:
    """Case 2: whenever z is active, z' (and a sibling z'') are active; weight can move between them."""
    a = _net([(_H_W, _H_B), ([[1, -1, 1], [2, -1, 0]], [1, 2]), ([[1, 1]], [0])], "section52_case2")
    b = _net([(_H_W, _H_B), ([[2, -1, 1], [1, -1, 0]], [1, 2]), ([[1, 1]], [0])], "section52_case2 twin")
    return DegenerateCase("section52_case2", a, b, "section52_case2",
                          "z = h1 = ReLU(x1); z' = ReLU(h1 - h2 + h3 + 1) and z'' = ReLU(2 h1 - h2 + 2) are both "
                          "active wherever z is, so there the output is linear in z through both and only "
                          "the sum of the weights z -> z', z -> z'' (times their outgoing weights) matters: "
                          "the twin swaps 1 and 2.  Where z is inactive it contributes nothing.")


def section52_case3() -> DegenerateCase:
    """Case 3: whenever z is inactive, z' is inactive; z's boundary is invisible and can slide."""
    a = _net([(_H_W, _H_B), ([[1, 0, 0], [0, 1, 1]], [-1, "-1/2"]), ([[1, 1]], [0])], "section52_case3")
    b = _net([(_H_W, [Fraction(-1, 2), 0, -1]), ([[1, 0, 0], [0, 1, 1]], ["-1/2", "-1/2"]), ([[1, 1]], [0])],
             "section52_case3 twin")
    return DegenerateCase("section52_case3", a, b, "section52_case3",
                          "z = h1 = ReLU(x1) feeds only z' = ReLU(z - 1), which is active only where z is: "
                          "z' = ReLU(x1 - 1).  The twin uses z = ReLU(x1 - 1/2) and z' = ReLU(z - 1/2), the "
                          "same function; B_z is not a boundary of the network's function (the linear "
                          "regions assumption fails) and its position is not identifiable.")


def section52_case4() -> DegenerateCase:
    """Case 4: whenever z is inactive, z' is active; the weights of z's mirror neuron can move."""
    a = _net([(_H_W, _H_B), ([[-1, 1, 0], [-2, 2, 1]], [1, 1]), ([[1, 1]], [0])], "section52_case4")
    b = _net([(_H_W, _H_B), ([[-1, 2, 0], [-2, 1, 1]], [1, 1]), ([[1, 1]], [0])], "section52_case4 twin")
    return DegenerateCase("section52_case4", a, b, "section52_case4",
                          "z = h1 = ReLU(x1); z' = ReLU(-h1 + h2 + 1) and z'' = ReLU(-2 h1 + 2 h2 + h3 + 1) are "
                          "active wherever z is inactive (x1 < 0), which is exactly where h2 = ReLU(-x1) lives, "
                          "so only the sum of the weights h2 -> z', h2 -> z'' is identifiable: the twin swaps "
                          "1 and 2.  (For the pair (h2, z') this is case 2.)")


CATALOGUE: dict[str, Callable[[], DegenerateCase]] = {
    f.__name__: f for f in (dead_neuron, always_active_folded, duplicate_merged, zero_outgoing,
                            section52_case1, section52_case2, section52_case3, section52_case4)
}


def catalogue() -> list[DegenerateCase]:
    """Every case of the catalogue, in a fixed order."""
    return [make() for make in CATALOGUE.values()]


def case(name: str) -> DegenerateCase:
    """One case by name (see CATALOGUE)."""
    try:
        return CATALOGUE[name]()
    except KeyError:
        raise ExactrevError(f"degenerate case {name!r}: unknown; choose from {', '.join(CATALOGUE)}") from None
