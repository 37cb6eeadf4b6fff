"""The forecasting models and demand classes in a reader's words.

The engine names its models by short aliases (`seasonal_naive`, `croston_sba`) and classes each series' demand
(`smooth`, `intermittent`, `seasonal`, `inactive`); pages and the API show these labels, translated, instead. Names
that are the method's own (ETS, SARIMA, LightGBM) stay as they are in every language; an alias not listed here
is shown as it is.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

MODELS = {
    "naive": _("Naive (the last period again)"),
    "seasonal_naive": _("Seasonal naive (the same period a cycle ago)"),
    "croston_sba": "Croston (SBA)",
    "tsb": "TSB",
    "adida": "ADIDA",
    "imapa": "IMAPA",
    "ets": "ETS",
    "sarima": "SARIMA",
    "mstl": "MSTL",
    "lstm": _("LSTM network"),
    "lightgbm": "LightGBM",
    "ridge": _("Ridge regression"),
    "features": _("Regression on drivers"),
    "global": _("Global model"),
    "inactive": _("Inactive (no recent sales)"),
}
DEMAND_CLASSES = {
    "smooth": _("smooth"),
    "intermittent": _("intermittent"),
    "seasonal": _("seasonal"),
    "inactive": _("inactive"),
}
MOVING_AVERAGE = re.compile(r"moving_average_(\d+)$")


def model_label(alias: str) -> str:
    """A model's name for a person: its method, in the active language; a combination (`lightgbm+imapa`, a global
    model's forecast with a local one's) names both."""
    if "+" in (alias or ""):
        return " + ".join(model_label(part) for part in alias.split("+"))
    match = MOVING_AVERAGE.match(alias or "")
    if match:
        return str(_("Moving average of %(periods)s periods") % {"periods": match.group(1)})
    return str(MODELS.get(alias, alias))


def demand_class_label(value: str) -> str:
    return str(DEMAND_CLASSES.get(value, value))
