"""Inline SVG charts for the HTML report: drawn here in Python, so the page needs no script or network.

Every label goes through :func:`html.escape` (names come from the mesh's answers and the user's objects). Bars
carry classes a test (or a stylesheet) can find: ``bar expected``, ``bar observed`` (plus ``off`` when the
value is outside what the check allows), ``band`` (the allowed range), ``interval`` (a confidence interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from smi_conformance.report.evidence import CountRow, LatencyRow, SplitGroup

__all__ = ["count_chart", "latency_chart", "split_chart"]

_FONT = 'font-family="system-ui, sans-serif"'


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _text(x: float, y: float, text: str, *, size: int = 11, anchor: str = "middle", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}"{klass}>'
        f"{escape(text)}</text>"
    )


def _rect(x: float, y: float, w: float, h: float, cls: str, title: str, **data: str) -> str:
    attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in data.items())
    return (
        f'<rect class="{cls}" x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0))}" height="{_f(max(h, 0))}"'
        f"{attrs}><title>{escape(title)}</title></rect>"
    )


def _svg(kind: str, width: float, height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart {kind}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(label)}" '
        f'width="{_f(width)}" height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" {_FONT}>'
        + "".join(body)
        + "</svg>"
    )


# ------------------------------------------------------------------------------------------------- split
_TOP, _PLOT_H, _LEFT = 16, 200, 44
_BAR, _PAIR_GAP, _BACKEND_GAP, _GROUP_GAP = 22, 2, 16, 44


def split_chart(groups: Sequence[SplitGroup], tolerance: float) -> str:
    """Grouped bars, one group per weight check (a canary step): per backend its expected share (outline)
    and observed share (solid) over the band expected +- tolerance, with the observed share's confidence
    interval as a whisker."""

    def y(share: float) -> float:
        return _TOP + _PLOT_H * (1 - min(max(share, 0.0), 1.0))

    pair = 2 * _BAR + _PAIR_GAP
    widths = [len(g.bars) * pair + (len(g.bars) - 1) * _BACKEND_GAP for g in groups]
    label_room = [max(w, 7 * len(g.label)) for g, w in zip(groups, widths, strict=True)]
    width = _LEFT + sum(label_room) + _GROUP_GAP * max(len(groups) - 1, 0) + 16
    height = _TOP + _PLOT_H + 44
    body = []
    for tick in (0, 0.25, 0.5, 0.75, 1):
        body.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_f(width - 8)}" y1="{_f(y(tick))}" y2="{_f(y(tick))}"/>'
        )
        body.append(_text(_LEFT - 6, y(tick) + 4, f"{tick:.0%}", size=10, anchor="end"))
    x = float(_LEFT)
    for group, inner, room in zip(groups, widths, label_room, strict=True):
        bx = x + (room - inner) / 2
        body.append(f'<g class="group" data-label="{escape(group.label)}">')
        for bar in group.bars:
            low, high = max(bar.expected - tolerance, 0.0), min(bar.expected + tolerance, 1.0)
            allowed = f"{_pct(low)} to {_pct(high)}"
            body.append(
                _rect(
                    bx - 3, y(high), pair + 6, y(low) - y(high), "band", f"{bar.backend}: allowed {allowed}"
                )
            )
            body.append(
                _rect(
                    bx,
                    y(bar.expected),
                    _BAR,
                    y(0) - y(bar.expected),
                    "bar expected",
                    f"{bar.backend}: expected {_pct(bar.expected)}",
                    backend=bar.backend,
                    share=f"{bar.expected:.4f}",
                )
            )
            off = abs(bar.observed - bar.expected) > tolerance or (bar.expected == 0 and bar.count > 0)
            ox = bx + _BAR + _PAIR_GAP
            title = f"{bar.backend}: observed {_pct(bar.observed)} ({bar.count:,} of {group.n:,})"
            if bar.interval:
                title += f", confidence interval {_pct(bar.interval[0])} to {_pct(bar.interval[1])}"
            body.append(
                _rect(
                    ox,
                    y(bar.observed),
                    _BAR,
                    y(0) - y(bar.observed),
                    "bar observed off" if off else "bar observed",
                    title,
                    backend=bar.backend,
                    share=f"{bar.observed:.4f}",
                    count=str(bar.count),
                )
            )
            if bar.interval:
                cx, top, bottom = ox + _BAR / 2, y(bar.interval[1]), y(bar.interval[0])
                body.append(
                    f'<path class="interval" d="M{_f(cx)} {_f(top)}V{_f(bottom)}M{_f(cx - 4)} {_f(top)}'
                    f'H{_f(cx + 4)}M{_f(cx - 4)} {_f(bottom)}H{_f(cx + 4)}"/>'
                )
            label_y = min(y(bar.observed), y(bar.interval[1]) if bar.interval else y(bar.observed)) - 3
            body.append(_text(ox + _BAR / 2, max(label_y, 10), _pct(bar.observed), size=10, cls="value"))
            body.append(_text(bx + pair / 2, _TOP + _PLOT_H + 14, bar.backend, size=11))
            bx += pair + _BACKEND_GAP
        mark = "" if group.passed else " (failed)"
        body.append(_text(x + room / 2, _TOP + _PLOT_H + 32, group.label + mark, size=12, cls="group-label"))
        body.append("</g>")
        x += room + _GROUP_GAP
    return _svg("split", width, height, "expected versus observed traffic shares", body)


# --------------------------------------------------------------------------------- horizontal bar charts
_ROW_H, _H_BAR, _PLOT_W = 30, 10, 360


def _label_width(labels: Sequence[str]) -> float:
    return min(max((len(label) for label in labels), default=10) * 6.6, 460) + 12


def count_chart(rows: Sequence[CountRow], window_s: float | None = None) -> str:
    """Per resource or edge and metric: the requests the suite sent (outline) against the count the Traffic
    Metrics API reported (solid; ``off`` when the check rejects it)."""
    left = _label_width([r.label for r in rows])
    top = 8
    scale_max = max([1.0, *(r.expected for r in rows), *(r.observed or 0 for r in rows)])

    def w(value: float) -> float:
        return _PLOT_W * value / scale_max

    body = []
    for i, row in enumerate(rows):
        y0 = top + i * _ROW_H
        body.append(_text(left - 8, y0 + 15, row.label, anchor="end"))
        body.append(_rect(left, y0 + 3, w(row.expected), _H_BAR, "bar expected", f"sent {_f(row.expected)}"))
        got = row.observed
        body.append(
            _rect(
                left,
                y0 + 4 + _H_BAR,
                w(got or 0),
                _H_BAR,
                "bar observed" if row.ok else "bar observed off",
                "not reported" if got is None else f"reported {_f(got)}",
                value="" if got is None else _f(got),
            )
        )
        shown = f"sent {_f(row.expected)}, " + ("not reported" if got is None else f"reported {_f(got)}")
        body.append(
            _text(left + max(w(row.expected), w(got or 0)) + 6, y0 + 15, shown, size=10, anchor="start")
        )
    height = top + len(rows) * _ROW_H + 6
    label = "requests sent versus counts reported" + (f" (window {window_s:g} s)" if window_s else "")
    return _svg("counts", left + _PLOT_W + 170, height, label, body)


def latency_chart(rows: Sequence[LatencyRow]) -> str:
    """Per percentile (and resource or edge): the latency reported (solid; ``off`` outside its range) over
    the range the check allows (shaded)."""
    left = _label_width([r.label for r in rows])
    top = 8
    scale_max = max([1.0, *(r.high_ms * 1.1 for r in rows), *(r.value or 0 for r in rows)])

    def x(value: float) -> float:
        return left + _PLOT_W * max(value, 0.0) / scale_max

    body = []
    for i, row in enumerate(rows):
        y0 = top + i * _ROW_H
        allowed = f"allowed {_f(row.low_ms)} to {_f(row.high_ms)} ms"
        body.append(_rect(x(row.low_ms), y0 + 2, x(row.high_ms) - x(row.low_ms), _ROW_H - 4, "band", allowed))
        body.append(_text(left - 8, y0 + 18, row.label, anchor="end"))
        shown = "not reported" if row.value is None else f"{_f(row.value)} ms"
        body.append(
            _rect(
                left,
                y0 + 9,
                x(row.value or 0) - left,
                _H_BAR + 2,
                "bar observed" if row.ok else "bar observed off",
                f"{row.label}: {shown} ({allowed})",
                value="" if row.value is None else _f(row.value),
            )
        )
        end = max(x(row.value or 0), x(row.high_ms))
        body.append(_text(end + 6, y0 + 18, f"{shown} ({allowed})", size=10, anchor="start"))
    height = top + len(rows) * _ROW_H + 6
    return _svg(
        "latency", left + _PLOT_W + 220, height, "latency percentiles against the allowed range", body
    )
