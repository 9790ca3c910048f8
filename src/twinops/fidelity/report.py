"""Fidelity reports as a self-contained HTML page: metrics tables and, per output, observed vs
simulated (with the prediction interval when there is one) and the residuals, as inline SVG.

Deterministic bytes (a report is a job output that reproduction compares): a fixed SVG hash
salt, no date metadata, text kept as text, no wall-clock anywhere.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
MAX_PLOTTED_TWINS = 4
MAX_PLOTTED_POINTS = 2000

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.pass{color:#16794a;font-weight:bold}.fail{color:#b3261e;font-weight:bold}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}
"""


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(
    output: str,
    hours: FloatArray,
    observed: FloatArray,
    simulated: FloatArray,
    lower: FloatArray | None,
    upper: FloatArray | None,
    twins: Sequence[str],
) -> str:
    """Observed vs simulated and the residuals of one output, as an SVG element."""
    import matplotlib
    from matplotlib.figure import Figure

    stride = max(1, len(hours) // MAX_PLOTTED_POINTS)
    shown = min(len(twins), MAX_PLOTTED_TWINS)
    with matplotlib.rc_context({"svg.hashsalt": "twinops-fidelity", "svg.fonttype": "none"}):
        figure = Figure(figsize=(9, 4.5))
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
        for j in range(shown):
            x = hours[::stride]
            colour = f"C{j}"
            if lower is not None and upper is not None:
                top.fill_between(
                    x, lower[::stride, j], upper[::stride, j], color=colour, alpha=0.15, lw=0
                )
            top.plot(
                x, observed[::stride, j], ".", ms=2, color=colour, label=f"{twins[j]} observed"
            )
            top.plot(
                x, simulated[::stride, j], "-", lw=1, color=colour, label=f"{twins[j]} simulated"
            )
            bottom.plot(x, (observed - simulated)[::stride, j], ".", ms=2, color=colour)
        bottom.axhline(0.0, color="#444", lw=0.8)
        top.set_title(output)
        top.set_ylabel(output)
        top.legend(fontsize=7, ncol=2)
        bottom.set_ylabel("observed - simulated")
        bottom.set_xlabel("hours since the window's start")
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def render_html(
    title: str,
    summary: Mapping[str, Any],
    metric_rows: Sequence[Sequence[Any]],
    times_us: NDArray[np.int64],
    outputs: Sequence[str],
    twins: Sequence[str],
    observed: FloatArray,
    simulated: FloatArray,
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
    extra: str = "",
) -> bytes:
    """A self-contained HTML page (arrays ``(outputs, records, twins)``)."""
    hours = (np.asarray(times_us, dtype=np.float64) - float(times_us[0])) / 3.6e9
    verdict = summary.get("passed")
    badge = ""
    if verdict is not None:
        badge = (
            f'<p>Thresholds: <span class="{"pass" if verdict else "fail"}">'
            f"{'passed' if verdict else 'failed'}</span></p>"
        )
    figures = "".join(
        _figure(
            output,
            hours,
            observed[o],
            simulated[o],
            None if lower is None else lower[o],
            None if upper is None else upper[o],
            twins,
        )
        for o, output in enumerate(outputs)
    )
    headers = ["output", "twin", "n", "rmse", "mae", "mape %", "bias", "r2", "coverage"]
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Model {html.escape(str(summary.get('model', '')))}, window "
        f"{html.escape(str(summary.get('window', {}).get('start', '')))} to "
        f"{html.escape(str(summary.get('window', {}).get('end', '')))}, twins "
        f"{html.escape(', '.join(twins[:20]))}{' …' if len(twins) > 20 else ''}</p>"
        f"{badge}{extra}<h2>Metrics</h2>{_table(headers, metric_rows)}<h2>Plots</h2>{figures}"
        "<h2>Summary (JSON)</h2><pre>"
        f"{html.escape(json.dumps(summary, indent=2, sort_keys=True))}</pre></body></html>"
    )
    return page.encode("utf-8")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table (values escaped)."""
    return _table(headers, rows)
