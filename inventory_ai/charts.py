"""Server-side SVG charts for the admin: a variant's demand history, its forecast with intervals, its stock plan, and
the drivers under them (price, weather).

Rendered as plain SVG markup (no JavaScript, nothing fetched at run time), so the page works offline and prints.
Every value drawn is a number or a date formatted here, or one of the labels below; no user text goes into the markup.
Numbers, dates and labels follow the active language (labels escaped, as a translation is text).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils.dateformat import format as format_date
from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

WIDTH = 900
DEMAND_HEIGHT = 250
STOCK_HEIGHT = 130
LEFT, RIGHT, TOP, BOTTOM, GAP = 56, 120, 16, 26, 34
# The baseline of the demand bars: the bottom edge of the demand panel.
DEMAND_BOTTOM = TOP + DEMAND_HEIGHT

_STYLE = (
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
    ".forecast-chart .event-span{fill:#7b4fa6;opacity:.13}"
    ".forecast-chart .override{fill:none;stroke:#7b4fa6;stroke-width:2.5;stroke-dasharray:5 3}"
    ".forecast-chart .price{fill:none;stroke:#2b7a5f;stroke-width:2}"
    ".forecast-chart rect.price{fill:#2b7a5f}"
    ".forecast-chart .on-sale{fill:#7b4fa6}"
    ".forecast-chart .temperature{fill:none;stroke:#c4621d;stroke-width:2}"
    ".forecast-chart rect.temperature{fill:#c4621d}"
    ".forecast-chart .precipitation{fill:#5b7fa6;opacity:.45}"
    "</style>"
)


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
    override: float | None = None  # a planner's overridden mean, drawn beside the model's


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(int(math.ceil(top / step)) + 1)]


def _number(value: float) -> str:
    """A value as a label: whole numbers with thousands separators, one decimal below 10 (localised separators)."""
    if not math.isfinite(value):
        return str(value)
    decimals = 0 if abs(value) >= 10 or value == int(value) else 1
    # Rounded here: number_format cuts surplus decimals off instead of rounding.
    return number_format(Decimal(f"{value:.{decimals}f}"), decimal_pos=decimals, use_l10n=True, force_grouping=True)


def _day(day: date) -> str:
    """A date as "05 Jan 2024", with the active language's month names."""
    return format_date(day, "d M Y")


class _Scale:
    """A panel's vertical scale (from 0 to the top tick) and the horizontal position of each period."""

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
    """A panel's grid lines with their tick values, and its vertical axis label."""
    parts = []
    for tick in scale.ticks:
        y = scale.y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}</text>')
    middle = scale.y0 + scale.height / 2
    parts.append(
        f'<text class="axis-label" x="14" y="{middle:.1f}" transform="rotate(-90 14 {middle:.1f})" '
        f'text-anchor="middle">{escape(label)}</text>'
    )
    return parts


def _band(scale: _Scale, offset: int, lows: list[float], highs: list[float], css: str) -> str:
    """An interval band between `lows` and `highs`, one point per period from `offset` (at the period's middle)."""
    upper = [f"{scale.x(offset + i + 0.5):.1f},{scale.y(v):.1f}" for i, v in enumerate(highs)]
    lower = [f"{scale.x(offset + i + 0.5):.1f},{scale.y(v):.1f}" for i, v in reversed(list(enumerate(lows)))]
    return f'<polygon class="{css}" points="{" ".join(upper + lower)}"/>'


def _polyline(scale: _Scale, offset: int, values: list[float], css: str) -> str:
    """A line through `values`, one point per period from `offset` (at the period's middle)."""
    points = " ".join(f"{scale.x(offset + i + 0.5):.1f},{scale.y(v):.1f}" for i, v in enumerate(values))
    return f'<polyline class="{css}" points="{points}"/>'


def _legend(items: list[tuple[str, str]], y: float) -> list[str]:
    """A legend right of the panels from `y` down: a swatch of each item's class with its text."""
    parts, x = [], WIDTH - RIGHT + 12
    for position, (css, text) in enumerate(items):
        top = y + 18 * position
        parts.append(f'<rect class="{css} legend-swatch" x="{x}" y="{top:.1f}" width="14" height="10"/>')
        parts.append(f'<text class="legend" x="{x + 20}" y="{top + 9:.1f}">{escape(text)}</text>')
    return parts


def forecast_chart(
    history: list[Period],
    forecast: list[ForecastPeriod],
    reorder_point: float | None = None,
    order_up_to: float | None = None,
    available: float | None = None,
    event_spans: list[tuple[int, int]] = (),
) -> SafeString:
    """Demand per period (bars, out-of-stock periods shaded), the forecast mean with its 80%/95% bands, and, when a
    policy is given, a stock panel: the stock projected from `available` at the forecast rate against the reorder
    point and the order-up-to level. `event_spans`: (first, last) period positions (history then forecast) of the
    item's demand events, shaded behind the bars."""
    n_periods = len(history) + len(forecast)
    levels = sorted({level for period in forecast for level in period.intervals})
    with_stock = reorder_point is not None and order_up_to is not None
    height = TOP + DEMAND_HEIGHT + BOTTOM + (GAP + STOCK_HEIGHT + BOTTOM if with_stock else 0)
    demand = _Scale(n_periods, _demand_top(history, forecast, levels) * 1.05, TOP, DEMAND_HEIGHT)
    label = escape(_("Demand history and forecast"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="forecast-chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{label}">',
        _STYLE,
    ]
    parts += _axis(demand, _("units per week"))
    parts += [
        f'<rect class="event-span" x="{demand.x(first):.1f}" y="{TOP}" width="{demand.step * (last - first + 1):.1f}" '
        f'height="{DEMAND_HEIGHT}"/>'
        for first, last in event_spans
    ]
    parts += _out_of_stock_shading(demand, history)
    parts += _history_bars(demand, history)
    parts += _forecast_marks(demand, len(history), forecast, levels)
    overridden = [(i, p.override) for i, p in enumerate(forecast) if p.override is not None]
    if overridden:
        points = " ".join(f"{demand.x(len(history) + i + 0.5):.1f},{demand.y(v):.1f}" for i, v in overridden)
        # Translators: A planner's manual change to the forecast, drawn on the chart.
        title = escape(_("Planner override"))
        parts.append(f'<polyline class="override" points="{points}"><title>{title}</title></polyline>')
    parts += _month_labels(demand, [p.start for p in history] + [p.start for p in forecast])
    parts += _demand_legend(forecast, levels)
    if with_stock:
        parts += _stock_panel(n_periods, len(history), forecast, reorder_point, order_up_to, available)
    parts.append("</svg>")
    # Safe: only numbers, dates and escaped labels formatted above go into the markup, never user text.
    return mark_safe("".join(parts))


def _demand_top(history: list[Period], forecast: list[ForecastPeriod], levels: list[int]) -> float:
    """The largest value the demand panel must show: units sold, forecast means, upper interval bounds (at least 1)."""
    return max(
        [p.units for p in history]
        + [p.mean for p in forecast]
        + [p.override for p in forecast if p.override is not None]
        + [p.intervals[level][1] for p in forecast for level in levels]
        + [1.0]
    )


def _out_of_stock_shading(demand: _Scale, history: list[Period]) -> list[str]:
    """A shaded column over each history period in which the item was out of stock on some day."""
    return [
        f'<rect class="out-of-stock" x="{demand.x(index):.1f}" y="{TOP}" width="{demand.step:.1f}" '
        f'height="{DEMAND_HEIGHT}"><title>'
        + escape(_("Out of stock in the week to %(date)s") % {"date": _day(period.end)})
        + "</title></rect>"
        for index, period in enumerate(history)
        if period.out_of_stock
    ]


def _history_bars(demand: _Scale, history: list[Period]) -> list[str]:
    """One bar per history period, as high as the units sold in it, grouped under the `history` class."""
    parts = ['<g class="history">']
    for index, period in enumerate(history):
        top = demand.y(period.units)
        # Translators: The tooltip of a week's bar on the demand chart, e.g. "Week to 07 Jan 2024: 12 sold".
        title = _("Week to %(date)s: %(units)s sold") % {"date": _day(period.end), "units": _number(period.units)}
        parts.append(
            f'<rect x="{demand.x(index) + demand.step * 0.15:.1f}" y="{top:.1f}" width="{demand.step * 0.7:.1f}" '
            f'height="{DEMAND_BOTTOM - top:.1f}" data-units="{period.units:g}"><title>{escape(title)}</title></rect>'
        )
    parts.append("</g>")
    return parts


def _forecast_marks(demand: _Scale, offset: int, forecast: list[ForecastPeriod], levels: list[int]) -> list[str]:
    """The forecast after the history: its interval bands (widest first, so the narrower ones lie on top), its mean
    as a line, and a dashed line at the boundary between history and forecast. Nothing without a forecast."""
    if not forecast:
        return []
    parts = []
    for level in reversed(levels):
        lows = [p.intervals[level][0] for p in forecast]
        highs = [p.intervals[level][1] for p in forecast]
        parts.append(_band(demand, offset, lows, highs, f"band-{level}"))
    parts.append(_polyline(demand, offset, [p.mean for p in forecast], "forecast-mean"))
    now = demand.x(offset)
    parts.append(f'<line class="now" x1="{now:.1f}" x2="{now:.1f}" y1="{TOP}" y2="{DEMAND_BOTTOM}"/>')
    return parts


def _month_labels(demand: _Scale, starts: list[date]) -> list[str]:
    """Month labels under the first period of each month (with the year in January and on the first label),
    leaving out a label that would crowd the previous one or run past the right edge."""
    parts = []
    previous, last_x = None, -math.inf
    for index, start in enumerate(starts):
        if (start.year, start.month) != previous:
            previous = (start.year, start.month)
            x = demand.x(index)
            label = format_date(start, "M Y" if start.month == 1 or index == 0 else "M")
            if x - last_x < 7 * len(label) or x > WIDTH - RIGHT - 3 * len(label):
                continue  # too close to the previous label or to the right edge to be read
            last_x = x
            parts.append(f'<text class="tick" x="{x:.1f}" y="{DEMAND_BOTTOM + 16}">{escape(label)}</text>')
    return parts


def _demand_legend(forecast: list[ForecastPeriod], levels: list[int]) -> list[str]:
    """The demand panel's legend: sold and out of stock, then, with a forecast, its mean and each interval level."""
    legend = [
        # Translators: Legend of the demand chart: the units sold per week.
        ("history", _("sold")),
        # Translators: Legend of the demand chart: the weeks in which the item was out of stock on some day.
        ("out-of-stock", _("out of stock")),
    ]
    if forecast:
        # Translators: Legend of the demand chart: the forecast demand (noun).
        legend.append(("forecast-mean", _("forecast")))
        # Translators: Legend of the demand chart: a forecast's prediction interval, e.g. "80% interval".
        legend += [(f"band-{level}", _("%(level)s%% interval") % {"level": level}) for level in levels]
    return _legend(legend, TOP)


def _projected_stock(available: float | None, forecast: list[ForecastPeriod]) -> list[float]:
    """The stock left at the end of each forecast period if no order arrives: `available` less the forecast means
    so far (empty when the available stock is not known)."""
    if available is None:
        return []
    projected, level = [], float(available)
    for period in forecast:
        level -= period.mean
        projected.append(level)
    return projected


def _stock_panel(
    n_periods: int,
    offset: int,
    forecast: list[ForecastPeriod],
    reorder_point: float,
    order_up_to: float,
    available: float | None,
) -> list[str]:
    """The stock panel under the demand panel: the reorder point and the order-up-to level as horizontal lines, the
    stock projected from `available` over the forecast periods (from the boundary at `offset`), and its legend."""
    projected = _projected_stock(available, forecast)
    stock_top = max([reorder_point, order_up_to, available or 0.0, *projected, 1.0])
    stock = _Scale(n_periods, stock_top * 1.1, DEMAND_BOTTOM + BOTTOM + GAP, STOCK_HEIGHT)
    parts = _axis(stock, _("stock"))
    # Translators: The stock level at which an order is placed.
    reorder_point_label = _("reorder point")
    # Translators: The stock level an order tops the stock up to.
    order_up_to_label = _("order up to")
    for css, value, title in (
        # Translators: The tooltip of the reorder point's line, e.g. "reorder point: 120".
        ("reorder-point", reorder_point, _("reorder point: %(units)s") % {"units": _number(reorder_point)}),
        # Translators: The tooltip of the order-up-to level's line, e.g. "order up to: 300".
        ("order-up-to", order_up_to, _("order up to: %(units)s") % {"units": _number(order_up_to)}),
    ):
        y = stock.y(value)
        parts.append(
            f'<line class="{css}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'data-value="{value:g}"><title>{escape(title)}</title></line>'
        )
    if projected:
        values = [float(available), *projected]
        points = " ".join(f"{stock.x(offset + i):.1f},{stock.y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="projected-stock" points="{points}"/>')
    parts += _legend(
        [
            ("reorder-point", reorder_point_label),
            ("order-up-to", order_up_to_label),
            # Translators: The stock projected forward if no order is placed.
            ("projected-stock", _("stock, no order")),
        ],
        stock.y0,
    )
    return parts


DRIVER_HEIGHT = 80


def drivers_chart(history_periods: int, drivers: list) -> SafeString:
    """Under the demand chart, on its time axis: the list price per period (a dot where the SKU was on sale) and the
    weather of the store's main location (mean temperature, precipitation bars), as the forecast reads them. Empty
    when there is neither a price nor any weather to draw. `drivers`: `selectors.drivers.PeriodDrivers` per period."""
    prices = [d.price for d in drivers]
    temperatures = [d.temperature for d in drivers]
    rain = [d.precipitation for d in drivers]
    panels = [
        name for name, values in (("price", prices), ("weather", temperatures)) if any(v is not None for v in values)
    ]
    if not panels:
        return mark_safe("")
    height = TOP + len(panels) * (DRIVER_HEIGHT + BOTTOM)
    label = escape(_("Price and weather per period"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="drivers-chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{label}">',
        _STYLE.replace(".forecast-chart", ".drivers-chart"),  # its own class: the page's one forecast chart stays one
    ]
    y0 = TOP
    for panel in panels:
        if panel == "price":
            scale = _Scale(len(drivers), max(v for v in prices if v is not None) * 1.1 or 1.0, y0, DRIVER_HEIGHT)
            parts += _axis(scale, _("price"))
            parts += _segments(scale, prices, "price")
            parts += [
                f'<circle class="on-sale" cx="{scale.x(i + 0.5):.1f}" cy="{scale.y(d.price):.1f}" r="3.5"/>'
                for i, d in enumerate(drivers)
                if d.on_sale and d.price is not None
            ]
            parts += _legend([("price", _("list price")), ("on-sale", _("on sale"))], y0)
        else:
            known = [v for v in temperatures if v is not None]
            low = min(0.0, 5.0 * math.floor(min(known) / 5.0))  # ticks on round degrees
            scale = _Scale(len(drivers), max(max(known) - low, 1.0) * 1.1, y0, DRIVER_HEIGHT)
            wettest = max([v for v in rain if v is not None] or [0.0])
            for i, value in enumerate(rain):
                if value:
                    bar = DRIVER_HEIGHT * 0.6 * value / wettest
                    # Translators: Precipitation in millimetres, e.g. "12 mm".
                    rainfall = escape(_("%(amount)s mm") % {"amount": _number(round(value))})
                    parts.append(
                        f'<rect class="precipitation" x="{scale.x(i) + 1:.1f}" y="{y0 + DRIVER_HEIGHT - bar:.1f}" '
                        f'width="{max(scale.step - 2, 1):.1f}" height="{bar:.1f}"><title>{rainfall}</title></rect>'
                    )
            parts += _axis(_Shifted(scale, low), "°C")
            parts += _segments(_Shifted(scale, low), temperatures, "temperature")
            parts += _legend([("temperature", _("temperature")), ("precipitation", _("precipitation"))], y0)
        now = scale.x(history_periods)
        parts.append(f'<line class="now" x1="{now:.1f}" x2="{now:.1f}" y1="{y0}" y2="{y0 + DRIVER_HEIGHT}"/>')
        y0 += DRIVER_HEIGHT + BOTTOM
    parts.append("</svg>")
    # Safe: only numbers and escaped labels formatted above go into the markup, never user text.
    return mark_safe("".join(parts))


class _Shifted:
    """A scale whose zero is `low` (temperatures below zero): values and ticks are read from `low` up."""

    def __init__(self, scale: _Scale, low: float) -> None:
        self.scale, self.low = scale, low
        self.ticks = [tick + low for tick in scale.ticks]
        self.y0, self.height, self.step = scale.y0, scale.height, scale.step

    def x(self, index: float) -> float:
        return self.scale.x(index)

    def y(self, value: float) -> float:
        return self.scale.y(value - self.low)


def _segments(scale, values: list[float | None], css: str) -> list[str]:
    """Lines through the known values, broken where a value is unknown."""
    parts, run = [], []
    for i, value in enumerate([*values, None]):
        if value is not None:
            run.append(f"{scale.x(i + 0.5):.1f},{scale.y(value):.1f}")
            continue
        if run:
            parts.append(f'<polyline class="{css}" points="{" ".join(run)}"/>')
        run = []
    return parts
