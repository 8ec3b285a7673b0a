"""`exactrev demo`: the first thing a new user runs.

Creates a 2-5-5-1 and a 10-20-20-1 network, extracts both exactly through query-only oracles,
certifies each recovered network against its target, prints a short table and writes a report
(with the paper's Fig. 1 picture for the 2-input network), in about 30 seconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from .canonical import canonical_form
from .certify import certify
from .extract import extract
from .netformat import network_to_dict
from .oracle import Oracle
from .random_net import random_network
from .report import write_html, write_png

# (widths, seed): seeds whose extraction completes; 2-input networks often end partial (see README)
DEMO_NETWORKS = (([2, 5, 5, 1], 3), ([10, 20, 20, 1], 0))


def run_demo(out: TextIO, out_dir: str | Path = "exactrev-demo") -> int:
    """Run the tour; returns 0 when every network was recovered and certified equivalent, else 1."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out.write("exactrev demo: recover ReLU networks from queries alone, exactly, and prove it.\n\n")
    header = f"{'network':<12}{'params':>8}{'queries':>9}{'q/param':>9}{'extract s':>11}{'status':>10}  certificate"
    out.write(header + "\n" + "-" * (len(header) + 12) + "\n")
    ok = True
    for widths, seed in DEMO_NETWORKS:
        target = random_network(widths, seed=seed)
        oracle = Oracle.from_network(target, "exact")
        start = time.perf_counter()
        result = extract(oracle, seed=seed)
        seconds = time.perf_counter() - start
        cert = certify(result.network, target)
        name = "-".join(map(str, widths))
        out.write(f"{name:<12}{target.num_params:>8}{result.queries:>9}{result.queries / target.num_params:>9.2f}"
                  f"{seconds:>11.2f}{result.status:>10}  {cert.verdict} ({cert.method})\n")
        ok &= result.status == "complete" and cert.verdict == "equivalent"
        report = result.to_report()
        report.update(target=network_to_dict(target), wall_seconds=round(seconds, 3),
                      certificate={"verdict": cert.verdict, "method": cert.method, "reason": cert.reason,
                                   "witness": None})
        if widths[0] == 2:
            write_html(report, out_dir / f"report-{name}.html")
            write_png(report, out_dir / f"boundaries-{name}.png")
        same = canonical_form(result.network) == canonical_form(target)
        out.write(f"{'':12}recovered canonical form identical to the target's: {same}\n")
    out.write(f"\nReport with the boundary picture (paper's Fig. 1): {out_dir / 'report-2-5-5-1.html'}\n"
              f"Picture alone: {out_dir / 'boundaries-2-5-5-1.png'}\n")
    return 0 if ok else 1
