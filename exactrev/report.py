"""Reports of extraction runs: matplotlib figures (the paper's Fig. 1 for 2-D inputs, per-layer
queries / neurons / error for any input size) and tables of the certificate and assumption checks,
written as one self-contained HTML page or a PNG.

Floats appear here only to draw pictures; nothing drawn feeds back into a decision.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import ExactrevError
from .files import atomic_write_bytes, atomic_write_text
from .netformat import network_from_dict
from .network import Network

LAYER_COLOURS = ["#1f5fbf", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]  # layer 1 blue, layer 2 red, ...


def load_run(path: str | Path) -> dict:
    """Read a run report written by `exactrev extract --report`; errors name the file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ExactrevError(f"{p}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    except json.JSONDecodeError as e:
        raise ExactrevError(f"{p}: not valid JSON: {e}") from None
    if not isinstance(data, dict) or "queries" not in data or "layers" not in data:
        raise ExactrevError(f"{p}: not an exactrev run report (expected keys 'queries' and 'layers')")
    return data


def run_network(report: dict, key: str = "network") -> Network | None:
    """The recovered (or target) network stored in a report, if any."""
    d = report.get(key)
    return None if d is None else network_from_dict(d, f"report[{key!r}]")


def boundary_grid(net: Network, extent: float, resolution: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Pre-activations of every hidden layer on a square grid: (X, Y, [layer -> (neurons, res, res)])."""
    xs = np.linspace(-extent, extent, resolution)
    X, Y = np.meshgrid(xs, xs)
    h = np.stack([X.ravel(), Y.ravel()])
    layers = []
    for k, (w, b) in enumerate(net._floats()[:-1]):
        z = w @ h + b[:, None]
        layers.append(z.reshape(len(w), resolution, resolution))
        h = np.maximum(z, 0.0)
    return X, Y, layers


def draw_boundaries(ax: Any, net: Network, points: Sequence[Sequence[float]] = (), *, extent: float = 4.0,
                    resolution: int = 400, title: str = "") -> None:
    """The paper's Fig. 1 (right): boundaries B_z of a 2-input network, coloured by layer."""
    if net.input_dim != 2:
        raise ExactrevError(f"boundary picture needs a 2-input network, this one has {net.input_dim} inputs")
    X, Y, layers = boundary_grid(net, extent, resolution)
    for k, z in enumerate(layers):
        colour = LAYER_COLOURS[k % len(LAYER_COLOURS)]
        for neuron in z:
            if neuron.min() < 0 < neuron.max():
                ax.contour(X, Y, neuron, levels=[0.0], colors=[colour], linewidths=1.4)
        ax.plot([], [], color=colour, label=f"layer {k + 1}")
    if len(points):
        pts = np.asarray(points, dtype=float)
        inside = np.all(np.abs(pts) <= extent, axis=1)
        ax.scatter(pts[inside, 0], pts[inside, 1], s=14, c="black", zorder=3, label="recovered boundary points")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(title or "boundaries between linear regions")


def draw_layer_stats(axes: Sequence[Any], report: dict) -> None:
    """Queries per layer, neurons per layer, and log10 error per layer (float/mpmath runs)."""
    layers = report.get("layers", [])
    idx = np.arange(1, len(layers) + 1)
    names = [str(i) for i in idx]
    axes[0].bar(names, [layer.get("queries", 0) for layer in layers], color="#1f5fbf")
    axes[0].set_title("queries per layer")
    axes[1].bar(names, [layer.get("neurons", 0) for layer in layers], color="#2ca02c")
    axes[1].set_title("neurons found per layer")
    errors = [layer.get("max_rel_error") for layer in layers]
    finite = [math.log10(e) if e else None for e in errors]
    if any(v is not None for v in finite):
        axes[2].bar(names, [v if v is not None else 0 for v in finite], color="#d62728")
        axes[2].set_title("log10 max relative error per layer")
    else:
        axes[2].text(0.5, 0.5, "exact: error 0 in every layer", ha="center", va="center", transform=axes[2].transAxes)
        axes[2].set_title("error per layer")
        axes[2].set_xticks([])
        axes[2].set_yticks([])
    for ax in axes:
        ax.set_xlabel("layer")


def render_figures(report: dict) -> list[tuple[str, bytes]]:
    """All figures of a report as (caption, PNG bytes)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures: list[tuple[str, bytes]] = []
    recovered = run_network(report)
    target = run_network(report, "target")
    if recovered is not None and recovered.input_dim == 2:
        panels = [(target, "target network"), (recovered, "recovered network")] if target else [(recovered, "recovered network")]
        fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5))
        for ax, (net, title) in zip(np.atleast_1d(axes), panels):
            points = [[float(Fraction(v)) for v in x] for x in report.get("boundary_points", [])]
            draw_boundaries(ax, net, points, title=title)
        figures.append(("Boundaries between linear regions (layer 1 blue, layer 2 red), as in Fig. 1 of the paper.",
                        _png(fig)))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    draw_layer_stats(axes, report)
    fig.tight_layout()
    figures.append(("Queries, neurons and error per layer.", _png(fig)))
    return figures


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """The run's key figures as (name, value) rows."""
    keys = ["status", "widths", "oracle", "seed", "queries", "wall_seconds"]
    rows = [(k, _text(report[k])) for k in keys if k in report]
    rows.append(("unidentified", str(len(report.get("unidentified", [])))))
    return rows


def _text(v: Any) -> str:
    return "-".join(map(str, v)) if isinstance(v, list) and all(isinstance(x, int) for x in v) else str(v)


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: dict, title: str = "exactrev run") -> str:
    """A self-contained HTML page: summary, figures (embedded PNGs), certificate and assumption tables."""
    parts = [f"<h1>{html.escape(title)}</h1>", _table(summary_rows(report), ["", "value"])]
    for caption, png in render_figures(report):
        data = base64.b64encode(png).decode()
        parts.append(f'<figure><img src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}'
                     "</figcaption></figure>")
    for key, heading in (("unidentified", "Unidentified"), ("removed", "Removed (no effect on the output)")):
        if report.get(key):
            parts.append(f"<h2>{heading}</h2>" + _table([[_text(u.get("layer")), _text(u.get("neuron")),
                                                          u.get("reason", "")] for u in report[key]],
                                                        ["layer", "neuron", "reason"]))
    cert = report.get("certificate")
    if cert:
        parts.append("<h2>Certificate</h2>" + _table([(k, _text(cert.get(k))) for k in
                                                      ("verdict", "method", "reason", "witness") if k in cert], ["", ""]))
    checks = report.get("assumptions", {}).get("checks") if isinstance(report.get("assumptions"), dict) else None
    if checks:
        parts.append("<h2>Assumptions</h2>" + _table([(c.get("name"), c.get("status"), c.get("evidence", ""))
                                                      for c in checks], ["check", "status", "evidence"]))
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}img{max-width:100%}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>" \
           f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"


def write_html(report: dict, out: str | Path) -> None:
    atomic_write_text(out, render_html(report, title=f"exactrev run: {Path(out).stem}"))


def write_png(report: dict, out: str | Path) -> None:
    """The first figure of the report (the boundary picture for 2-D inputs) as a PNG file."""
    atomic_write_bytes(out, render_figures(report)[0][1])
