"""Reasons in words, written in their reader's language: a restock suggestion's, and a forecast's ("why this
forecast", `forecast_reasons`).

`services.replenishment` keeps the figures a suggestion's reason is written from in `ReorderSuggestion.reason_data`
(and writes `reason` from them in English, as it always read); `reason_text` writes them in the active language.
A suggestion written before `reason_data` existed has it empty and reads its stored `reason`.

`reason_data` (JSON; a number that is not finite is kept as its text, "nan" or "inf"):
- "version": 1;
- "weekly": the forecast's weekly demand (units);
- "peak_week": the last day (ISO date) of the forecast week that stands out as a peak, or null;
- "tracking_factor" and "tracking_since": how sales ran against the forecast (a factor) since a day (ISO date), when
  they ran far enough off to say; else null;
- "lead_days": the lead time in days;
- "measure": the store's service measure (`ServiceMeasure`: "fill_rate" or "cycle");
- "service": the service level (a share of 1);
- "item_fill": this item's share of a store-wide fill rate, or null when no fill rate is shared out over the store;
- "fill_setting": the fill rate asked of the forecasts when it is above the service level (they served less than
  they promised), else null;
- "order_up_to", "available", "on_order", "quantity", "case_pack": units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from inventory_ai.choices import ServiceMeasure
from inventory_ai.models import DemandEvent
from inventory_ai.selectors.model_names import MODELS, MOVING_AVERAGE
from inventory_ai.text import day_month, number, percent, speaks_english

VERSION = 1


def reason_text(suggestion) -> str:
    """The suggestion's reason in the active language; its stored `reason` when it has no figures to write it from."""
    data = suggestion.reason_data
    if not data or data.get("version") != VERSION:
        return suggestion.reason
    try:
        return render(data)
    except (KeyError, TypeError, ValueError):  # figures of another shape than this version writes
        return suggestion.reason


def render(data: dict) -> str:
    """The reason written from its figures (see the module's docstring) in the active language."""
    # Translators: a restock suggestion's reason, its four parts in this order: what the item sells, the lead
    # time, the stock the service level needs, what is held and what to order.
    return _("%(sales)s; %(lead_time)s; %(service)s; %(order)s") % {
        "sales": _sales(data),
        "lead_time": _lead_time(data),
        "service": _service(data),
        "order": _order(data),
    }


def _sales(data: dict) -> str:
    weekly = float(data["weekly"])
    figures = {"weekly": number(weekly, 1 if weekly < 10 else 0)}
    peak, since = data.get("peak_week"), data.get("tracking_since")
    if peak:
        figures["peak"] = day_month(date.fromisoformat(peak))
    if since:
        figures["since"] = day_month(date.fromisoformat(since))
        figures["factor"] = number(float(data["tracking_factor"]), 1, grouping=False)
    if peak and since:
        text = _(
            "Sells ~%(weekly)s/week, peaking in the week to %(peak)s (sales since %(since)s ran at %(factor)s× the "
            "forecast)"
        )
    elif peak:
        text = _("Sells ~%(weekly)s/week, peaking in the week to %(peak)s")
    elif since:
        text = _("Sells ~%(weekly)s/week (sales since %(since)s ran at %(factor)s× the forecast)")
    else:
        text = _("Sells ~%(weekly)s/week")
    return text % figures


def _lead_time(data: dict) -> str:
    days = int(data["lead_days"])
    if days % 7 == 0:
        weeks = days // 7
        shown = f"{days / 7:g}" if speaks_english() else number(weeks, grouping=False)
        return ngettext("%(weeks)s-week lead time", "%(weeks)s-week lead time", weeks) % {"weeks": shown}
    return ngettext("%(days)s-day lead time", "%(days)s-day lead time", days) % {"days": number(days, grouping=False)}


def _service(data: dict) -> str:
    figures = {"service": percent(float(data["service"])), "level": number(int(data["order_up_to"]))}
    item_fill = data.get("item_fill")
    if item_fill is not None:
        figures["share"] = percent(float(item_fill))
        if data.get("fill_setting") is not None:
            figures["asked"] = percent(float(data["fill_setting"]), 1)
            text = _(
                "%(service)s fill rate over the store's items (asked of the forecasts as %(asked)s: lately they "
                "served less than they promised), %(share)s of this one's demand: %(level)s on hand or on order"
            )
        else:
            text = _(
                "%(service)s fill rate over the store's items, %(share)s of this one's demand: %(level)s on hand or "
                "on order"
            )
    elif data["measure"] == ServiceMeasure.FILL_RATE:
        text = _("%(service)s fill rate needs %(level)s on hand or on order")
    else:
        text = _("%(service)s cycle service needs %(level)s on hand or on order")
    return text % figures


def _order(data: dict) -> str:
    quantity, on_order, pack = int(data["quantity"]), int(data["on_order"]), int(data["case_pack"])
    figures = {"available": number(int(data["available"])), "on_order": number(on_order), "quantity": number(quantity)}
    if pack <= 1:
        if on_order:
            return _("you have %(available)s (+%(on_order)s on order) → order %(quantity)s") % figures
        return _("you have %(available)s → order %(quantity)s") % figures
    cases = quantity // pack
    figures.update(cases=number(cases, grouping=False), pack=number(pack, grouping=False))
    if on_order:
        text = ngettext(
            "you have %(available)s (+%(on_order)s on order) → order %(quantity)s (%(cases)s cases of %(pack)s)",
            "you have %(available)s (+%(on_order)s on order) → order %(quantity)s (%(cases)s cases of %(pack)s)",
            cases,
        )
    else:
        text = ngettext(
            "you have %(available)s → order %(quantity)s (%(cases)s cases of %(pack)s)",
            "you have %(available)s → order %(quantity)s (%(cases)s cases of %(pack)s)",
            cases,
        )
    return text % figures


# --- why this forecast --------------------------------------------------------------------------------------------

# The effect each driver group is told as: groups that read the same way (the weather's temperature, rain and snow)
# are told together.
GROUP_EFFECTS = {
    "promotion": "promotions",
    "discount": "discounts",
    "price_index": "price",
    "realised_discount": "recent_discounts",
    "launch": "launch",
    "other_event": "events",
    "holiday": "holidays",
    "temperature": "weather",
    "precipitation": "weather",
    "snowfall": "weather",
    "season": "season",
    "calendar": "calendar",
}
# How each effect reads in a sentence: "+38% from promotions".
EFFECT_TEXTS = {
    "promotions": gettext_lazy("%(percent)s from promotions"),
    "discounts": gettext_lazy("%(percent)s from discounts"),
    "price": gettext_lazy("%(percent)s from the price"),
    "recent_discounts": gettext_lazy("%(percent)s from recent discounts"),
    "launch": gettext_lazy("%(percent)s from a launch"),
    "events": gettext_lazy("%(percent)s from events"),
    "holidays": gettext_lazy("%(percent)s from public holidays"),
    "weather": gettext_lazy("%(percent)s from the weather"),
    "season": gettext_lazy("%(percent)s from last year's pattern"),
    "calendar": gettext_lazy("%(percent)s from the calendar (weekday, week, month)"),
}
REASONS_SHOWN = 4


@dataclass(frozen=True)
class Reason:
    """One driver group's effect on a SKU's forecast over the horizon: `percent` against the forecast without it.
    `group` is the effect (a key of `EFFECT_TEXTS`, or the group's own name), `text` the sentence in the active
    language."""

    group: str
    percent: float
    text: str


def forecast_reasons(explanation: dict[str, list[float]], events: Sequence[DemandEvent] = ()) -> list[Reason]:
    """The largest effects in a forecast's explanation (what each driver group adds per period, in units), in
    plain words: "+38% from promotions (Black Friday, 27 Nov–30 Nov)". Groups that read the same way (the weather's
    temperature, rain and snow) are told together; the level (the SKU's own recent sales) is the base, not a
    reason, and so is the share of a statistical model averaged with a feature model (`lightgbm+imapa`: IMAPA's half
    is its reading of the SKU's own sales). Empty without an explanation."""
    if not explanation:
        return []
    total = float(np.sum([np.sum(values) for values in explanation.values()]))
    merged: dict[str, float] = {}
    for group, values in explanation.items():
        if group == "level" or group in MODELS or MOVING_AVERAGE.match(group):
            continue
        effect = GROUP_EFFECTS.get(group, group)
        merged[effect] = merged.get(effect, 0.0) + float(np.sum(values))
    reasons = []
    for effect, added in merged.items():
        without = total - added
        if without <= 0 or abs(added) < 0.01 * max(total, 1e-9):
            continue
        percent = 100 * added / without
        reasons.append(Reason(effect, percent, _effect_text(effect, percent, events)))
    return sorted(reasons, key=lambda reason: -abs(reason.percent))[:REASONS_SHOWN]


def _effect_text(effect: str, percent: float, events: Sequence[DemandEvent]) -> str:
    """An effect in words, in the active language; promotions name their events (the first three)."""
    figures = {"percent": _signed_percent(percent)}
    if effect == "promotions" and events:
        # Translators: an event and its days in the reasons of a forecast, as in "Black Friday, 27 Nov–30 Nov"
        event = _("%(name)s, %(starts)s–%(ends)s")
        dated = [
            event % {"name": e.name, "starts": day_month(e.starts_on, False), "ends": day_month(e.ends_on, False)}
            for e in events[:3]
        ]
        return _("%(percent)s from promotions (%(events)s)") % {**figures, "events": "; ".join(dated)}
    if effect in EFFECT_TEXTS:
        return EFFECT_TEXTS[effect] % figures
    # a driver group this version does not name: its own name
    return _("%(percent)s from %(driver)s") % {**figures, "driver": effect.replace("_", " ")}


def _signed_percent(value: float) -> str:
    """A change in percent with its sign: "+38%", "-5%"."""
    if speaks_english():
        return f"{value:+.0f}%"
    shown = number(value, 0, grouping=False)
    return (shown if shown.startswith("-") else "+" + shown) + "%"
