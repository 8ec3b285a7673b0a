"""Soundness fuzz for certify: >= 10^4 random pairs whose truth is known independently of certify.

    python3 benchmarks/fuzz_certify.py [--pairs 10000] [--seed 0]

Pair kinds (small networks, 1-3 inputs, 1-2 hidden layers of width 1-4, 1-2 outputs):
  twin    random permutation/scaling twin               truth: equal (by construction)
  dead    twin plus a dead neuron with random weights    truth: equal (by construction)
  split   a hidden neuron split into two scaled copies   truth: equal (by construction)
  nudge   one parameter moved by 2^-1, 2^-20 or 2^-60    truth: "differs" if exact evaluation at 300
                                                          random points finds a difference, else open
  other   an independent random network                  truth: as for nudge
  tol     output bias moved by d, box [-1,1]^n,          truth: max |a-b| = d exactly, so tolerance d
          tolerance d or d/2                             is equal, d/2 is differs
  catalogue  a degenerate-catalogue network vs. a        truth: equal (the catalogue's twins compute the
          permuted/scaled copy of its non-isomorphic      same function by construction), or for the
          twin, or that twin with one parameter moved     nudged half as for nudge
          by 2^-60 or 2^-20
  far     a 2-hidden-layer network plus a layer-2 bump   truth: differs (the bump is eps > 0 at c)
          neuron relu(eps - |x - c|_1) active only in a
          ball of radius eps = 2^-k (k <= 40) around a
          point c with coordinates up to 2^40; output
          weight 0 in A, nonzero in B
Half of the pairs skip the canonical shortcut and the sampling phase, so the region proof decides.
A violation is "equivalent" for a pair that differs, "different" for a pair that is equal, or a
witness that does not re-check exactly.  Writes benchmarks/results/fuzz_certify.json.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

from exactrev import Network, certify, degenerate, random_isomorphic_twin, random_network

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("twin", "dead", "split", "nudge", "other", "tol", "catalogue", "far")
CATALOGUE = degenerate.catalogue()


def _lists(net: Network) -> tuple[list, list]:
    return [list(map(list, w)) for w in net.weights], [list(b) for b in net.biases]


def with_dead_neuron(net: Network, rng: random.Random) -> Network:
    """Append to the last hidden layer a neuron that is never active, with random outgoing weights."""
    w, b = _lists(net)
    k = len(w) - 2
    fan_in = len(w[k][0])
    if k == 0:                                   # inputs are not ReLU outputs: use a zero row, negative bias
        row, bias = [Fraction(0)] * fan_in, Fraction(-rng.randint(1, 8), 4)
    else:                                        # minus a sum of ReLU outputs, minus a constant
        row, bias = [Fraction(-rng.randint(0, 4), 4) for _ in range(fan_in)], Fraction(-rng.randint(1, 8), 4)
    w[k].append(row)
    b[k].append(bias)
    for out_row in w[k + 1]:
        out_row.append(Fraction(rng.randint(-16, 16), 4))
    return Network(w, b)


def split_neuron(net: Network, rng: random.Random) -> Network:
    """Replace a hidden neuron by two positive multiples c1 z, c2 z whose outgoing weights share its own."""
    w, b = _lists(net)
    k = rng.randrange(len(w) - 1)
    i = rng.randrange(len(w[k]))
    c = Fraction(rng.randint(1, 8), rng.randint(1, 8))
    t = Fraction(rng.randint(-8, 8), 8)                  # fraction of the outgoing weight left on the original
    w[k].append([v * c for v in w[k][i]])
    b[k].append(b[k][i] * c)
    for out_row in w[k + 1]:
        v = out_row[i]
        out_row[i] = v * t
        out_row.append(v * (1 - t) / c)
    return Network(w, b)


def nudge(net: Network, rng: random.Random, exponents: tuple[int, ...] = (1, 20, 60)) -> Network:
    """One weight or bias moved by +-2^-e, e drawn from `exponents`."""
    w, b = _lists(net)
    k = rng.randrange(len(w))
    i = rng.randrange(len(w[k]))
    j = rng.randrange(len(w[k][0]) + 1)
    d = Fraction(rng.choice((-1, 1)), 2 ** rng.choice(exponents))
    if j < len(w[k][0]):
        w[k][i][j] += d
    else:
        b[k][i] += d
    return Network(w, b)


def far_bump_pair(net: Network, rng: random.Random) -> tuple[Network, Network]:
    """(A, B): `net` (two hidden layers) plus first-layer neurons relu(+-(x_i - c_i)) and a layer-2 neuron
    relu(eps - sum_i |x_i - c_i|), whose output weight is 0 in A and nonzero in B, so A computes `net`
    and B differs from it only inside the L1 ball of radius eps around c, far from the origin."""
    w, b = _lists(net)
    n, h1 = net.input_dim, len(w[0])
    c = [Fraction(rng.randint(-2 ** 12, 2 ** 12), 2 ** 12) * 2 ** rng.randint(8, 40) for _ in range(n)]
    eps = Fraction(1, 2 ** rng.randint(1, 40))
    for i in range(n):
        for s in (1, -1):
            w[0].append([Fraction(s * int(j == i)) for j in range(n)])
            b[0].append(-s * c[i])
    for row in w[1]:
        row.extend([Fraction(0)] * (2 * n))
    w[1].append([Fraction(0)] * h1 + [Fraction(-1)] * (2 * n))
    b[1].append(eps)
    weight = Fraction(rng.choice((-1, 1)) * rng.randint(1, 16), 4)
    outs_a = [row + [Fraction(0)] for row in w[2]]
    outs_b = [row + [weight if o == 0 else Fraction(rng.randint(-4, 4), 4)] for o, row in enumerate(w[2])]
    return Network([w[0], w[1], outs_a], b), Network([w[0], w[1], outs_b], b)


def differs_by_sampling(a: Network, b: Network, rng: random.Random) -> bool:
    pts = [[Fraction(rng.randint(-2 ** 14, 2 ** 14), 2 ** rng.choice((4, 8, 12))) for _ in range(a.input_dim)]
           for _ in range(300)]
    return a.evaluate_batch(pts) != b.evaluate_batch(pts)


def random_pair(index: int, seed: int) -> dict:
    """One pair: kind, networks, certify keyword arguments, and the truth ('equal', 'differs', or None)."""
    rng = random.Random(f"{seed}:{index}")
    widths = [rng.randint(1, 3), *[rng.randint(1, 4) for _ in range(rng.randint(1, 2))], rng.randint(1, 2)]
    kind = KINDS[index % len(KINDS)]
    if kind == "far":
        widths = [widths[0], rng.randint(1, 4), rng.randint(1, 4), widths[-1]]
    a = random_network(widths, seed=rng.randrange(10 ** 9), bits=rng.randint(2, 8))
    kwargs: dict = {} if index % 2 else {"try_canonical": False, "samples": 0}
    truth: str | None = "equal"
    if kind == "twin":
        b = random_isomorphic_twin(a, seed=index)
    elif kind == "dead":
        b = random_isomorphic_twin(with_dead_neuron(a, rng), seed=index)
    elif kind == "split":
        b = split_neuron(a, rng)
    elif kind in ("nudge", "other"):
        b = nudge(a, rng) if kind == "nudge" else random_network(widths, seed=rng.randrange(10 ** 9), bits=4)
        truth = "differs" if differs_by_sampling(a, b, rng) else None
    elif kind == "catalogue":
        case = CATALOGUE[index // len(KINDS) % len(CATALOGUE)]
        a, b = case.network, random_isomorphic_twin(case.twin, seed=index)
        if rng.random() < 0.5:
            b = nudge(b, rng, (20, 60))
            truth = "differs" if differs_by_sampling(a, b, rng) else None
    elif kind == "far":
        a, b = far_bump_pair(a, rng)
        b = random_isomorphic_twin(b, seed=index)
        truth = "differs"
    else:
        d = Fraction(1, 2 ** rng.randint(1, 40))
        w, bias = _lists(a)
        bias[-1][rng.randrange(len(bias[-1]))] += d
        b = Network(w, bias)
        half = rng.random() < 0.5
        kwargs.update(box=[(-1, 1)] * a.input_dim, tolerance=d / 2 if half else d)
        truth = "differs" if half else "equal"
    return {"kind": kind, "a": a, "b": b, "kwargs": kwargs, "truth": truth}


def check_pair(pair: dict) -> tuple[str, str | None]:
    """Run certify; return (verdict, violation or None)."""
    a, b, kw = pair["a"], pair["b"], pair["kwargs"]
    cert = certify(a, b, **kw)
    tol = Fraction(kw.get("tolerance", 0))
    if cert.verdict == "different":
        ya, yb = a(cert.witness), b(cert.witness)
        if max(abs(u - v) for u, v in zip(ya, yb)) <= tol:
            return cert.verdict, "witness does not re-check"
        if kw.get("box") and not all(lo <= x <= hi for x, (lo, hi) in zip(cert.witness, kw["box"])):
            return cert.verdict, "witness outside the box"
        if pair["truth"] == "equal":
            return cert.verdict, "different for an equal pair"
    if cert.verdict == "equivalent" and pair["truth"] == "differs":
        return cert.verdict, "equivalent for a differing pair"
    return cert.verdict, None


def run(pairs: int, seed: int = 0) -> dict:
    """Fuzz `pairs` pairs; the summary counts verdicts per kind and truth, and lists violations."""
    t0 = time.monotonic()
    counts: Counter = Counter()
    violations = []
    for i in range(pairs):
        pair = random_pair(i, seed)
        verdict, bad = check_pair(pair)
        counts[f"{pair['kind']}/{pair['truth'] or 'open'}/{verdict}"] += 1
        if bad:
            violations.append({"index": i, "kind": pair["kind"], "problem": bad})
    return {"pairs": pairs, "seed": seed, "seconds": round(time.monotonic() - t0, 1),
            "counts": dict(sorted(counts.items())), "violations": violations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    summary = run(args.pairs, args.seed)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fuzz_certify.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
