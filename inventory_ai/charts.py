"""Server-side SVG charts for the admin: a variant's demand history, its forecast with intervals, and its stock plan.

Rendered as plain SVG markup (no JavaScript, nothing fetched at run time), so the page works offline and prints.
Every value drawn is a number or a date formatted here; no user text goes into the markup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from django.utils.safestring import SafeString, mark_safe

WIDTH = 900
DEMAND_HEIGHT = 250
STOCK_HEIGHT = 130
LEFT, RIGHT, TOP, BOTTOM, GAP = 56, 120, 16, 26, 34


@dataclass(frozen=True)
class Period:
    """One period of demand history: units sold, and whether the item was out of stock on any day of it."""

    start: date
    end: date
    units: float
    out_of_stock: bool = False


@dataclass(frozen=True)
class ForecastPeriod:
    """One future period: the forecast mean and its interval bounds by level (80 -> (lo, hi))."""

    start: date
    end: date
    mean: float
    intervals: dict[int, tuple[float, float]] = field(default_factory=dict)


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(int(math.ceil(top / step)) + 1)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:,.1f}"


class _Scale:
    def __init__(self, n_periods: int, top: float, y0: float, height: float) -> None:
        self.ticks = nice_ticks(top)
        self.top = self.ticks[-1]
        self.step = (WIDTH - LEFT - RIGHT) / max(n_periods, 1)
        self.y0, self.height = y0, height

    def x(self, index: float) -> float:
        return LEFT + self.step * index

    def y(self, value: float) -> float:
        return self.y0 + self.height * (1 - max(value, 0.0) / self.top)


def _axis(scale: _Scale, label: str) -> list[str]:
    parts = []
    for tick in scale.ticks:
        y = scale.y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}</text>')
    middle = scale.y0 + scale.height / 2
    parts.append(
        f'<text class="axis-label" x="14" y="{middle:.1f}" transform="rotate(-90 14 {middle:.1f})" '
        f'text-anchor="middle">{label}</text>'
    )
    return parts


def _band(scale: _Scale, offset: int, lows: list[float], highs: list[float], css: str) -> str:
    upper = [f"{scale.x(offset + i + 0.5):.1f},{scale.y(v):.1f}" for i, v in enumerate(highs)]
    lower = [f"{scale.x(offset + i + 0.5):.1f},{scale.y(v):.1f}" for i, v in reversed(list(enumerate(lows)))]
    return f'<polygon class="{css}" points="{" ".join(upper + lower)}"/>'


def _polyline(scale: _Scale, offset: int, values: list[float], css: str) -> str:
    points = " ".join(f"{scale.x(offset + i + 0.5):.1f},{scale.y(v):.1f}" for i, v in enumerate(values))
    return f'<polyline class="{css}" points="{points}"/>'


def _legend(items: list[tuple[str, str]], y: float) -> list[str]:
    parts, x = [], WIDTH - RIGHT + 12
    for position, (css, text) in enumerate(items):
        top = y + 18 * position
        parts.append(f'<rect class="{css} legend-swatch" x="{x}" y="{top:.1f}" width="14" height="10"/>')
        parts.append(f'<text class="legend" x="{x + 20}" y="{top + 9:.1f}">{text}</text>')
    return parts


def forecast_chart(
    history: list[Period],
    forecast: list[ForecastPeriod],
    reorder_point: float | None = None,
    order_up_to: float | None = None,
    available: float | None = None,
) -> SafeString:
    """Demand per period (bars, out-of-stock periods shaded), the forecast mean with its 80%/95% bands, and, when a
    policy is given, a stock panel: the stock projected from `available` at the forecast rate against the reorder
    point and the order-up-to level."""
    n_history = len(history)
    n_periods = n_history + len(forecast)
    levels = sorted({level for period in forecast for level in period.intervals})
    demand_top = max(
        [p.units for p in history]
        + [p.mean for p in forecast]
        + [p.intervals[level][1] for p in forecast for level in levels]
        + [1.0]
    )
    with_stock = reorder_point is not None and order_up_to is not None
    height = TOP + DEMAND_HEIGHT + BOTTOM + (GAP + STOCK_HEIGHT + BOTTOM if with_stock else 0)
    demand = _Scale(n_periods, demand_top * 1.05, TOP, DEMAND_HEIGHT)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="forecast-chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="Demand history and forecast">',
        "<style>"
        ".forecast-chart text{font:11px system-ui,sans-serif;fill:var(--body-quiet-color,#555)}"
        ".forecast-chart .grid{stroke:var(--hairline-color,#e5e5e5)}"
        ".forecast-chart .history rect,.forecast-chart rect.history{fill:#5b7fa6}"
        ".forecast-chart .out-of-stock{fill:#d9534f;opacity:.16}"
        ".forecast-chart .band-95{fill:#f0a04b;opacity:.22}"
        ".forecast-chart .band-80{fill:#f0a04b;opacity:.38}"
        ".forecast-chart .forecast-mean{fill:none;stroke:#c4621d;stroke-width:2.5}"
        ".forecast-chart rect.forecast-mean{fill:#c4621d;stroke:none}"
        ".forecast-chart .now{stroke:#333;stroke-dasharray:3 3}"
        ".forecast-chart .reorder-point{stroke:#d9534f;stroke-width:1.5;stroke-dasharray:6 4;fill:#d9534f}"
        ".forecast-chart .order-up-to{stroke:#2b7a5f;stroke-width:1.5;stroke-dasharray:6 4;fill:#2b7a5f}"
        ".forecast-chart .projected-stock{fill:none;stroke:#333;stroke-width:2}"
        ".forecast-chart rect.projected-stock{fill:#333}"
        "</style>",
    ]
    parts += _axis(demand, "units per week")
    bottom = TOP + DEMAND_HEIGHT
    for index, period in enumerate(history):
        if period.out_of_stock:
            parts.append(
                f'<rect class="out-of-stock" x="{demand.x(index):.1f}" y="{TOP}" width="{demand.step:.1f}" '
                f'height="{DEMAND_HEIGHT}"><title>Out of stock in the week to {period.end:%d %b %Y}</title></rect>'
            )
    parts.append('<g class="history">')
    for index, period in enumerate(history):
        top = demand.y(period.units)
        parts.append(
            f'<rect x="{demand.x(index) + demand.step * 0.15:.1f}" y="{top:.1f}" width="{demand.step * 0.7:.1f}" '
            f'height="{bottom - top:.1f}" data-units="{period.units:g}"><title>Week to {period.end:%d %b %Y}: '
            f"{_number(period.units)} sold</title></rect>"
        )
    parts.append("</g>")
    if forecast:
        for level in reversed(levels):
            lows = [p.intervals[level][0] for p in forecast]
            highs = [p.intervals[level][1] for p in forecast]
            parts.append(_band(demand, n_history, lows, highs, f"band-{level}"))
        parts.append(_polyline(demand, n_history, [p.mean for p in forecast], "forecast-mean"))
        now = demand.x(n_history)
        parts.append(f'<line class="now" x1="{now:.1f}" x2="{now:.1f}" y1="{TOP}" y2="{bottom}"/>')
    # Month labels under the first period of each month.
    starts = [p.start for p in history] + [p.start for p in forecast]
    previous, last_x = None, -math.inf
    for index, start in enumerate(starts):
        if (start.year, start.month) != previous:
            previous = (start.year, start.month)
            x = demand.x(index)
            label = f"{start:%b %Y}" if start.month == 1 or index == 0 else f"{start:%b}"
            if x - last_x < 7 * len(label) or x > WIDTH - RIGHT - 3 * len(label):
                continue  # too close to the previous label or to the right edge to be read
            last_x = x
            parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 16}">{label}</text>')
    legend = [("history", "sold"), ("out-of-stock", "out of stock")]
    if forecast:
        legend += [("forecast-mean", "forecast")] + [(f"band-{level}", f"{level}% interval") for level in levels]
    parts += _legend(legend, TOP)

    if with_stock:
        projected = []
        if available is not None:
            level = float(available)
            for period in forecast:
                level -= period.mean
                projected.append(level)
        stock_top = max([reorder_point, order_up_to, available or 0.0, *projected, 1.0])
        stock = _Scale(n_periods, stock_top * 1.1, bottom + BOTTOM + GAP, STOCK_HEIGHT)
        parts += _axis(stock, "stock")
        for css, value, text in (
            ("reorder-point", reorder_point, "reorder point"),
            ("order-up-to", order_up_to, "order up to"),
        ):
            y = stock.y(value)
            parts.append(
                f'<line class="{css}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                f'data-value="{value:g}"><title>{text}: {_number(value)}</title></line>'
            )
        if projected:
            values = [float(available), *projected]
            points = " ".join(f"{stock.x(n_history + i):.1f},{stock.y(v):.1f}" for i, v in enumerate(values))
            parts.append(f'<polyline class="projected-stock" points="{points}"/>')
        parts += _legend(
            [
                ("reorder-point", "reorder point"),
                ("order-up-to", "order up to"),
                ("projected-stock", "stock, no order"),
            ],
            stock.y0,
        )
    parts.append("</svg>")
    # Safe: only numbers and dates formatted above go into the markup, never user text.
    return mark_safe("".join(parts))
