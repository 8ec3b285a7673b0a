"""`exactrev certify A B`: a sound verdict on whether two networks compute the same function."""

from __future__ import annotations

import argparse
import json

from ..certify import DEFAULT_LIMIT, Certificate, certify
from ..errors import ExactrevError, Interrupted
from ..numbers import parse_rational
from ..progress import make_bar
from ..regions import validate_box
from .common import load_network

EXIT_CODES = {"equivalent": 0, "different": 1, "unknown": 3}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("certify", help="prove two networks equivalent, or find an exact witness input where they differ",
                       description="Exit 0 equivalent, 1 different (witness printed as exact rationals), "
                                   "3 unknown (limit reached), 2 bad input, 130 interrupted (Ctrl-C; the "
                                   "'unknown' certificate of what was covered is printed first).")
    p.add_argument("a", help="first network file")
    p.add_argument("b", help="second network file")
    p.add_argument("--box", help="restrict to a box: LO,HI for every coordinate, or LO1,HI1;LO2,HI2;... "
                                 "(exact rationals; default: all of R^n)")
    p.add_argument("--tolerance", default="0", help="prove max |A(x) - B(x)| <= EPS on the box (needs --box)")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                   help=f"maximum number of linear regions to enumerate (default {DEFAULT_LIMIT})")
    p.add_argument("--seconds", type=float, default=600.0,
                   help="time limit for the region enumeration (default 600; past it the verdict is unknown)")
    p.add_argument("--json", action="store_true", help="print one JSON object (verdict, method, witness, reason, cost)")
    p.add_argument("--quiet", action="store_true", help="print nothing (no progress bar either); the exit code is the verdict")
    p.set_defaults(func=cmd_certify)


def parse_box(text: str) -> list[tuple]:
    """"LO,HI" or "LO1,HI1;LO2,HI2;..." -> exact (lo, hi) pairs; one pair means every coordinate."""
    pairs = []
    for i, part in enumerate(text.split(";")):
        ends = part.split(",")
        if len(ends) != 2:
            raise ExactrevError(f"--box {text!r}: interval {i + 1} ({part!r}) must be LO,HI")
        try:
            pairs.append((parse_rational(ends[0]), parse_rational(ends[1])))
        except ValueError as e:
            raise ExactrevError(f"--box {text!r}: interval {i + 1}: {e}") from None
    return pairs


def cmd_certify(args: argparse.Namespace) -> int:
    try:
        tol = parse_rational(args.tolerance)
    except ValueError as e:
        raise ExactrevError(f"--tolerance: {e}") from None
    if not args.seconds > 0:
        raise ExactrevError(f"--seconds {args.seconds}: must be positive")
    if args.limit < 1:
        raise ExactrevError(f"--limit {args.limit}: must be at least 1 region")
    a, b = load_network(args.a), load_network(args.b)
    for what, m, n in (("inputs", a.input_dim, b.input_dim), ("outputs", a.output_dim, b.output_dim)):
        if m != n:
            raise ExactrevError(f"{args.a} has {m} {what} but {args.b} has {n}")
    box = None
    if args.box:
        box = parse_box(args.box)
        if len(box) == 1:
            box = box * a.input_dim
        try:
            validate_box(box, a.input_dim)
        except ExactrevError as e:
            raise ExactrevError(f"--box {args.box!r}: {str(e).removeprefix('box: ')}") from None
    try:
        with make_bar(total=None, desc="certify: regions", quiet=args.quiet) as bar:
            cert = certify(a, b, box=box, tolerance=tol, limit=args.limit, seconds=args.seconds,
                           progress=bar.status)
    except Interrupted as e:     # Ctrl-C: show what was covered (an "unknown" certificate), then exit 130
        show(e.partial, args)
        raise
    show(cert, args)
    return EXIT_CODES[cert.verdict]


def show(cert: Certificate, args: argparse.Namespace) -> None:
    """Print the certificate as JSON or text (nothing with --quiet)."""
    if args.json:
        print(json.dumps(cert.to_dict()), flush=True)
    elif not args.quiet:
        print(cert.to_text(), flush=True)
