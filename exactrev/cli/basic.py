"""Basic subcommands: random, eval, canonical, check, demo."""

from __future__ import annotations

import argparse
import sys

from ..canonical import canonical_form
from ..errors import ExactrevError
from ..network import Network
from ..numbers import format_rational, parse_rational, shown
from ..random_net import parse_widths, random_network
from .common import emit_network, load_network


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("random", help="write a random He-initialised network")
    p.add_argument("widths", help="layer widths, e.g. 10-20-20-1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bits", type=int, default=24, help="values are multiples of 2**-bits (default 24)")
    p.add_argument("--out", help="output file (default: stdout)")
    p.set_defaults(func=cmd_random)

    p = sub.add_parser("eval", help="evaluate a network exactly at rational points")
    p.add_argument("net")
    p.add_argument("points", nargs="+", metavar="X", help="comma-separated rationals, e.g. 1/2,-3,0.25")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("canonical", help="canonical form under permutation and scaling")
    p.add_argument("net")
    p.add_argument("--out", help="output file (default: stdout)")
    p.set_defaults(func=cmd_canonical)

    p = sub.add_parser("check", help="validate a network file; print widths and parameter count")
    p.add_argument("net")
    p.add_argument("--assumptions", action="store_true",
                   help="also check the paper's recovery assumptions (dead neurons, duplicates, ...)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("demo", help="a short tour: random networks extracted exactly and certified")
    p.add_argument("--out-dir", default="exactrev-demo", help="where the report goes (default: ./exactrev-demo)")
    p.set_defaults(func=cmd_demo)


def cmd_random(args: argparse.Namespace) -> int:
    net = random_network(parse_widths(args.widths), seed=args.seed, bits=args.bits)
    emit_network(net, args.out)
    return 0


def parse_point(text: str, index: int) -> list:
    """"1/2,-3,0.25" -> exact rationals; errors name the argument and the coordinate."""
    out = []
    for j, part in enumerate(text.split(",")):
        try:
            out.append(parse_rational(part))
        except ValueError as e:
            raise ExactrevError(f"point {index + 1} ({shown(text)}), coordinate {j + 1}: {e}") from None
    return out


def cmd_eval(args: argparse.Namespace) -> int:
    net = load_network(args.net)
    points = [parse_point(t, i) for i, t in enumerate(args.points)]
    for i, x in enumerate(points):
        if len(x) != net.input_dim:
            raise ExactrevError(f"point {i + 1} ({shown(args.points[i])}) has {len(x)} coordinates; "
                                f"{args.net} takes {net.input_dim}")
    for y in net.evaluate_batch(points):
        print(",".join(format_rational(v) for v in y))
    return 0


def cmd_canonical(args: argparse.Namespace) -> int:
    emit_network(canonical_form(load_network(args.net)), args.out)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    net = load_network(args.net)
    print(f"{args.net}: valid exactrev network, widths {'-'.join(map(str, net.widths))}, "
          f"{net.num_params} parameters, {net.num_hidden} hidden neurons")
    if args.assumptions:
        return check_assumptions_report(net)
    return 0


def check_assumptions_report(net: Network) -> int:
    """Print the assumption checks (provided by exactrev.assumptions once available)."""
    try:
        from ..assumptions import check_assumptions
    except ImportError:
        raise ExactrevError("--assumptions: the assumption checks are not available in this build") from None
    print(check_assumptions(net).to_text())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    return run_demo(sys.stdout, args.out_dir)
