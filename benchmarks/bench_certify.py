"""Cost of complete certification: regions, LPs and wall time for networks up to ~60 hidden neurons.

    python3 benchmarks/bench_certify.py [--seconds 120] [--only 2-10-10-1 ...]

For each architecture: (1) a proof of equivalence over all of R^n for a random network and a
random isomorphic twin, with the canonical shortcut and sampling switched off, so the joint network
(twice the hidden neurons) is enumerated region by region; (2) the same twin with one parameter
moved by 2^-60, found by the enumeration alone (samples=0).  Past --seconds the verdict is
"unknown" and the row says how far it got.  Writes benchmarks/results/certify.json and certify.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
from fractions import Fraction
from pathlib import Path

from exactrev import Network, certify, random_isomorphic_twin, random_network
from exactrev.random_net import parse_widths

RESULTS = Path(__file__).resolve().parent / "results"
ARCHITECTURES = ("1-30-30-1", "2-5-5-1", "2-10-10-1", "2-15-15-1", "2-20-20-1", "2-30-30-1", "2-20-20-20-1",
                 "3-10-10-1", "3-20-20-1", "4-10-10-1", "4-15-15-1", "10-20-20-1")


def nudge(net: Network, rng: random.Random) -> Network:
    """`net` with one random hidden-layer or output parameter moved by 2^-60."""
    weights = [list(map(list, w)) for w in net.weights]
    biases = [list(b) for b in net.biases]
    k = rng.randrange(len(weights))
    i = rng.randrange(len(weights[k]))
    j = rng.randrange(len(weights[k][0]) + 1)
    if j < len(weights[k][0]):
        weights[k][i][j] += Fraction(1, 2 ** 60)
    else:
        biases[k][i] += Fraction(1, 2 ** 60)
    return Network(weights, biases)


def row(widths: str, kind: str, cert) -> dict:
    return {"widths": widths, "hidden": sum(parse_widths(widths)[1:-1]), "pair": kind, "verdict": cert.verdict,
            "method": cert.method, "regions": cert.regions, "lps": cert.lps, "nodes": cert.nodes,
            "seconds": round(cert.seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="time limit per certification")
    parser.add_argument("--only", nargs="*", help="architectures to run (default: all)")
    args = parser.parse_args()
    rows = []
    for widths in args.only or ARCHITECTURES:
        net = random_network(parse_widths(widths), seed=0, bits=16)
        twin = random_isomorphic_twin(net, seed=1)
        proof = certify(net, twin, try_canonical=False, samples=0, seconds=args.seconds, limit=None)
        rows.append(row(widths, "isomorphic twin (regions proof)", proof))
        found = certify(net, nudge(twin, random.Random(widths)), try_canonical=False, samples=0,
                        seconds=args.seconds, limit=None)
        rows.append(row(widths, "one parameter + 2^-60", found))
        for r in rows[-2:]:
            print(json.dumps(r), flush=True)
    RESULTS.mkdir(exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "seconds_limit": args.seconds}
    (RESULTS / "certify.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    lines = ["| widths | hidden | pair | verdict | regions | LPs | seconds |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['widths']} | {r['hidden']} | {r['pair']} | {r['verdict']} ({r['method']}) | {r['regions']} | "
              f"{r['lps']} | {r['seconds']} |" for r in rows]
    (RESULTS / "certify.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
