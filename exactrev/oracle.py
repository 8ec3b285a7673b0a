"""`Oracle`: the only door to a target network.  Counts every query, enforces a budget, batches.

Arithmetic modes:
- "exact":  inputs and outputs are exact rationals (Fraction);
- "mpmath": inputs and outputs are mpmath mpf at `dps` decimal digits;
- "float":  inputs and outputs are float64.
An oracle built from a rational `Network` evaluates exactly and rounds the output to the mode
(so float and mpmath answers are correctly rounded, and their error is known: half an ulp).
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Rational
from typing import Any, Callable, Sequence

import mpmath
from flint import fmpq, fmpz

from .errors import BudgetExceeded, ExactrevError, OracleError
from .network import Network
from .numbers import ARITHMETICS, shown, to_float, to_fraction, to_mpf

Number = Any


class Oracle:
    """Query access to a function R^input_dim -> R^output_dim, with counting and a budget."""

    def __init__(self, fn: Callable[[list[Number]], Sequence[Number]], input_dim: int, output_dim: int,
                 arithmetic: str = "exact", *, dps: int = 50, budget: int | None = None,
                 batch_fn: Callable[[list[list[Number]]], Sequence[Sequence[Number]]] | None = None,
                 record: bool = False) -> None:
        """Wrap a black box `fn` that takes one input (list of numbers of the mode's type) and returns its outputs.

        `batch_fn`, if given, answers many inputs at once (used instead of calling `fn` in a loop).
        `record=True` keeps every queried input in `.log` (for reproducibility checks).
        """
        if arithmetic not in ARITHMETICS:
            raise ExactrevError(f"arithmetic {arithmetic!r}: expected one of {', '.join(ARITHMETICS)}")
        for name, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ExactrevError(f"{name}={v!r}: must be a positive integer")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
            raise ExactrevError(f"budget={budget!r}: must be a non-negative integer or None")
        if isinstance(dps, bool) or not isinstance(dps, int) or dps < 1:
            raise ExactrevError(f"dps={dps!r}: must be a positive integer")
        self._fn = fn
        self._batch_fn = batch_fn
        self._takes_fmpq = False
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.arithmetic = arithmetic
        self.dps = dps
        self.budget = budget
        self.queries = 0
        self.log: list[list[Number]] | None = [] if record else None

    @classmethod
    def from_network(cls, net: Network, arithmetic: str = "exact", dps: int = 50,
                     budget: int | None = None, record: bool = False) -> "Oracle":
        """An oracle of a rational network: exact evaluation, rounded to the mode's precision."""
        if arithmetic == "exact":
            def batch(xs: list[list[Number]]) -> list[list[Fraction]]:
                return net.evaluate_batch(xs)
        elif arithmetic == "mpmath":
            def batch(xs: list[list[Number]]) -> list[list[mpmath.mpf]]:
                return [[to_mpf(v, dps) for v in row] for row in net.evaluate_batch(xs)]
        elif arithmetic == "float":
            def batch(xs: list[list[Number]]) -> list[list[float]]:
                return [[to_float(v) for v in row] for row in net.evaluate_batch(xs)]
        else:
            raise ExactrevError(f"arithmetic {arithmetic!r}: expected one of {', '.join(ARITHMETICS)}")
        oracle = cls(lambda x: batch([x])[0], net.input_dim, net.output_dim, arithmetic, dps=dps,
                     budget=budget, batch_fn=batch, record=record)
        oracle._takes_fmpq = True
        return oracle

    # ---------------------------------------------------------------- queries
    @property
    def remaining(self) -> int | None:
        """Queries left before the budget is exhausted (None: unlimited)."""
        return None if self.budget is None else self.budget - self.queries

    def __call__(self, x: Sequence[Number]) -> list[Number]:
        """Answer one query."""
        return self.batch([x])[0]

    def batch(self, xs: Sequence[Sequence[Number]]) -> list[list[Number]]:
        """Answer many queries; a batch of k counts k.  Raises BudgetExceeded (answering none) past the budget."""
        xs = [self.convert_input(x, j) for j, x in enumerate(xs)]
        if self.budget is not None and self.queries + len(xs) > self.budget:
            raise BudgetExceeded(f"oracle budget of {self.budget} queries exhausted "
                                 f"({self.queries} used, {len(xs)} more asked)", used=self.queries, budget=self.budget)
        try:
            with mpmath.workdps(self.dps):  # an mpmath black box computes at the oracle's precision
                raw = self._send(xs)
        except ExactrevError:
            raise
        except Exception as e:  # a black box may fail in any way; say so precisely
            raise OracleError(f"the oracle raised {type(e).__name__}: {str(e)[:200]}") from e
        if len(raw) != len(xs):
            raise OracleError(f"the oracle answered {len(raw)} outputs for a batch of {len(xs)} inputs")
        return [self._check_output(y, j) for j, y in enumerate(raw)]

    def _send(self, xs: list[list[Number]]) -> list:
        """The black box's raw answers; each query is counted (and logged) as it is sent, so a batch cut
        short by an interrupt counts only the queries that reached a one-point function."""
        if self._batch_fn is not None:
            self._count(xs)
            return list(self._batch_fn(xs))
        raw = []
        for x in xs:
            self._count([x])
            raw.append(self._fn(x))
        return raw

    def _count(self, xs: list[list[Number]]) -> None:
        """Count (and log) queries about to be sent."""
        self.queries += len(xs)
        if self.log is not None:
            self.log.extend(xs)

    # ------------------------------------------------------------ conversion
    def convert_input(self, x: Sequence[Number], index: int = 0) -> list[Number]:
        """An input in the mode's number type (exact: Fraction; mpmath: mpf at dps; float: float64)."""
        if not hasattr(x, "__len__") or isinstance(x, (str, bytes, dict)):
            raise ExactrevError(f"query {index} is {shown(x)}, not a sequence of coordinates")
        if len(x) != self.input_dim:
            raise ExactrevError(f"query {index}: {len(x)} coordinates, the oracle takes {self.input_dim}")
        try:
            if self.arithmetic == "exact":
                if self._takes_fmpq:     # a network target reads flint rationals directly (no gcd per coordinate)
                    return [v if type(v) is fmpq or type(v) is Fraction else to_fraction(v) for v in x]
                return [v if type(v) is Fraction else to_fraction(v) for v in x]   # no call for a Fraction
            if self.arithmetic == "mpmath":
                return [v if isinstance(v, mpmath.mpf) else to_mpf(v, self.dps) for v in x]
            return [v if type(v) is float else to_float(v) for v in x]
        except ValueError as e:
            raise ExactrevError(f"query {index}: {e}") from None

    def _check_output(self, y: Any, index: int) -> list[Number]:
        try:
            y = list(y)
        except TypeError:
            raise OracleError(f"the oracle's answer to query {index} is {type(y).__name__}, not a list of outputs") from None
        if len(y) != self.output_dim:
            raise OracleError(f"the oracle's answer to query {index} has {len(y)} outputs, expected {self.output_dim}")
        out = []
        for i, v in enumerate(y):
            try:
                out.append(self._convert_output(v))
            except (ValueError, TypeError, OverflowError) as e:
                raise OracleError(f"the oracle's output {i} for query {index}: {e}") from None
        return out

    def _convert_output(self, v: Any) -> Number:
        if self.arithmetic == "exact":
            if isinstance(v, bool) or not isinstance(v, (Rational, fmpq, fmpz)):
                raise TypeError(f"{shown(v)} ({type(v).__name__}) is not an exact rational; an exact oracle must "
                                "return int/Fraction (use arithmetic='float' or 'mpmath' for floating outputs)")
            return to_fraction(v)
        if self.arithmetic == "mpmath":
            if isinstance(v, bool):
                raise TypeError(f"{shown(v)} is a boolean")
            m = v if isinstance(v, mpmath.mpf) else to_mpf(v, self.dps)
            if not mpmath.isfinite(m):
                raise ValueError(f"{shown(v)} is not finite")
            return m
        if isinstance(v, bool):
            raise TypeError(f"{shown(v)} is a boolean")
        f = float(v)
        if f != f or f in (float("inf"), float("-inf")):
            raise ValueError(f"{shown(v)} is not finite")
        return f

    def __repr__(self) -> str:
        return (f"Oracle({self.input_dim}->{self.output_dim}, {self.arithmetic}, queries={self.queries}, "
                f"budget={self.budget})")
