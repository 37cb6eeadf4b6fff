"""The drivers of a store's SKUs as the engine reads them (`forecast_many(..., exog=...)`): one row per SKU and period
of the history and the horizon, built from events, price changes, sales and the weather.

Each driver has one known-future rule, applied here so that the engine can read every value as known at the origin:
- `promotion` (share of the period's days inside a promotion, markdown or clearance event of the SKU), `launch` and
  `other_event` (the same for launches and other events): planned ahead, known for the horizon;
- `discount` (the deepest cut of the day: an event's discount or the compare-at price's, a share of 1): known ahead;
- `price_index` (the list price over the SKU's median list price of the last year): the last known price holds over
  the horizon (a planned change is an event);
- `realised_discount` (one minus the unit price sold over the list price, days with sales): known only with the
  sales, a history-only driver (`HISTORY_ONLY`);
- `temperature`, `precipitation`, `snowfall` (the store's main location): observed for the history, forecast for
  the next days the weather service forecasts, the same week's mean over past years (climatology) beyond.
Public holidays are the engine's own driver (the store's country). Memory stays bounded: the rows are built for
`CHUNK` SKUs at a time and averaged into periods before the next chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.db.models import QuerySet, Sum
from django.utils.translation import ngettext_lazy

from forecasting.data import future_periods, period_alias
from inventory_ai.choices import EventKind, EventScope, WeatherKind
from inventory_ai.models import (
    DailyDemand,
    DemandEvent,
    ForecastOverride,
    Location,
    PriceChange,
    Store,
    Variant,
    WeatherDay,
)
from inventory_ai.text import number

CHUNK = 500
USUAL_PRICE_DAYS = 365  # the usual price: the median list price of the last year
PROMOTION_KINDS = (EventKind.PROMOTION, EventKind.MARKDOWN, EventKind.CLEARANCE)
HISTORY_ONLY = ("realised_discount",)
WEATHER = {"temperature": "temperature_mean", "precipitation": "precipitation_mm", "snowfall": "snowfall_cm"}


def event_variants(event: DemandEvent | ForecastOverride) -> QuerySet[Variant]:
    """The store's live SKUs an event (or an override, whose scopes are a subset of an event's) moves, by its
    scope."""
    variants = Variant.objects.filter(store_id=event.store_id, deleted_at__isnull=True)
    if event.scope == EventScope.STORE:
        return variants
    if event.scope == EventScope.PRODUCTS:
        return variants.filter(product__in=event.products.all())
    if event.scope == EventScope.VARIANTS:
        return variants.filter(pk__in=event.variants.all())
    if event.scope == EventScope.PRODUCT_TYPE:
        return variants.filter(product__product_type__iexact=event.product_type.strip())
    return variants.filter(product__vendor__iexact=event.vendor.strip())


def weather_location(store: Store) -> Location | None:
    """The location whose weather stands for the store: the primary one, else the first active one with
    coordinates (a location without its own takes the store's)."""
    locations = Location.objects.filter(store=store, active=True).order_by("-is_primary", "pk")
    for location in locations:
        if location.latitude is not None or store.latitude is not None:
            return location
    return None


def weather_frame(store: Store, first: date, last: date, origin: date) -> pd.DataFrame:
    """Daily weather of the store's main location over [first, last] by the known-future rule: what was observed up
    to `origin`, the stored forecast after it, the climatology of the same ISO week where neither is known. Empty
    when the store has no located weather."""
    location = weather_location(store)
    days = pd.date_range(first, last, freq="D")
    if location is None:
        return pd.DataFrame(index=days)
    rows = WeatherDay.objects.filter(location=location, day__lte=last).values_list("day", "kind", *WEATHER.values())
    table = pd.DataFrame(list(rows), columns=["day", "kind", *WEATHER])
    if table.empty:
        return pd.DataFrame(index=days, columns=list(WEATHER), dtype=float)
    table["day"] = pd.to_datetime(table["day"])
    observed = table[(table.kind == WeatherKind.OBSERVED) & (table.day <= pd.Timestamp(origin))]
    ahead = table[(table.kind == WeatherKind.FORECAST) & (table.day > pd.Timestamp(origin))]
    known = pd.concat([observed, ahead]).drop_duplicates("day", keep="last").set_index("day")[list(WEATHER)]
    frame = known.reindex(days).astype(float)
    climate = observed.assign(week=observed.day.dt.isocalendar().week.to_numpy()).groupby("week")[list(WEATHER)].mean()
    missing = frame.isna().all(axis=1) & (frame.index > pd.Timestamp(origin))
    if missing.any() and not climate.empty:
        weeks = frame.index[missing].isocalendar().week.to_numpy()
        frame.loc[missing, list(WEATHER)] = climate.reindex(weeks).to_numpy()
    return frame


@dataclass(frozen=True)
class PeriodDrivers:
    """What the variant page draws under the demand chart for one period: the list price in effect at its end (and
    whether it was on sale), the main location's mean temperature and total precipitation."""

    price: float | None
    on_sale: bool
    temperature: float | None
    precipitation: float | None


def period_drivers(variant: Variant, periods: Sequence[tuple[date, date]], origin: date) -> list[PeriodDrivers]:
    """Per (start, end) period: the price in effect at its end (the variant's price before its first recorded
    change), and the weather of the store's main location as the forecast reads it from `origin` (observed, then
    forecast, then climatology)."""
    if not periods:
        return []
    changes = list(
        PriceChange.objects.filter(variant=variant, effective_from__date__lte=periods[-1][1])
        .order_by("effective_from")
        .values_list("effective_from", "price", "compare_at_price")
    )
    weather = weather_frame(variant.store, periods[0][0], periods[-1][1], origin)
    out = []
    for start, end in periods:
        known = [change for change in changes if change[0].astimezone(variant.store.tzinfo).date() <= end]
        price, compare_at = (known[-1][1], known[-1][2]) if known else (variant.price, None)
        days = weather.loc[pd.Timestamp(start) : pd.Timestamp(end)]
        out.append(
            PeriodDrivers(
                float(price) if price is not None else None,
                bool(price is not None and compare_at is not None and compare_at > price),
                _weather_stat(days, "temperature", "mean"),
                _weather_stat(days, "precipitation", "sum"),
            )
        )
    return out


def _weather_stat(days: pd.DataFrame, column: str, how: str) -> float | None:
    if column not in days or not days[column].notna().any():
        return None
    return float(getattr(days[column], how)())


def driver_frame(
    store: Store, variant_ids: Sequence[int], freq: str, first: date, data_until: date, horizon: int
) -> pd.DataFrame:
    """The long `exog` frame `unique_id, ds, <drivers>` of these SKUs, one row per period of `freq` from the one
    holding `first` to `horizon` periods after the one holding `data_until` (`ds` is the period's last day)."""
    alias = period_alias(freq)
    last_period_end = pd.Period(data_until, freq=alias).end_time.normalize()
    last = future_periods(last_period_end, horizon, freq)[-1].date() if horizon else data_until
    days = pd.date_range(first, last, freq="D")
    weather = weather_frame(store, first, last, data_until)
    parts = []
    for start in range(0, len(variant_ids), CHUNK):
        chunk = list(variant_ids[start : start + CHUNK])
        daily = _daily(store, chunk, days, data_until)
        for column in weather.columns:
            daily[column] = np.tile(weather[column].to_numpy(float), len(chunk))
        daily["ds"] = daily["ds"].dt.to_period(alias).dt.end_time.dt.normalize()
        parts.append(daily.groupby(["unique_id", "ds"], sort=False).mean().reset_index())
    if not parts:
        return pd.DataFrame(columns=["unique_id", "ds"])
    return pd.concat(parts, ignore_index=True)


def _daily(store: Store, variant_ids: list[int], days: pd.DatetimeIndex, data_until: date) -> pd.DataFrame:
    count, span = len(variant_ids), len(days)
    position = {variant_id: row for row, variant_id in enumerate(variant_ids)}
    first, last = days[0].date(), days[-1].date()
    promotion, launch, other, discount = (np.zeros((count, span)) for _ in range(4))
    events = DemandEvent.objects.filter(store=store, starts_on__lte=last, ends_on__gte=first)
    for event in events.prefetch_related("products", "variants"):
        rows = [position[pk] for pk in event_variants(event).filter(pk__in=variant_ids).values_list("pk", flat=True)]
        if not rows:
            continue
        lo = max((event.starts_on - first).days, 0)
        hi = min((event.ends_on - first).days, span - 1) + 1
        target = promotion if event.kind in PROMOTION_KINDS else launch if event.kind == EventKind.LAUNCH else other
        target[np.ix_(rows, range(lo, hi))] = 1.0
        if event.discount_percent is not None:
            cut = float(event.discount_percent) / 100
            discount[np.ix_(rows, range(lo, hi))] = np.maximum(discount[np.ix_(rows, range(lo, hi))], cut)
    price = _list_prices(variant_ids, days, data_until)
    compare = price["compare"]
    with np.errstate(invalid="ignore", divide="ignore"):
        on_sale_cut = np.where(compare > price["price"], 1 - price["price"] / compare, 0.0)
        discount = np.maximum(discount, np.nan_to_num(on_sale_cut))
        # the usual price is read over the same year whatever the span asked, so a SKU's index does not depend on
        # which other SKUs share its frame
        year = pd.date_range(end=pd.Timestamp(data_until), periods=USUAL_PRICE_DAYS, freq="D")
        usual = _usual_prices(_list_prices(variant_ids, year, data_until)["price"])
        price_index = price["price"] / usual[:, None]
    realised = _realised_discount(variant_ids, position, days, data_until, price["price"])
    return pd.DataFrame(
        {
            "unique_id": np.repeat([str(pk) for pk in variant_ids], span),
            "ds": np.tile(days.to_numpy(), count),
            "promotion": promotion.ravel(),
            "launch": launch.ravel(),
            "other_event": other.ravel(),
            "discount": discount.ravel(),
            "price_index": price_index.ravel(),
            "realised_discount": realised.ravel(),
        }
    )


def _usual_prices(history: np.ndarray) -> np.ndarray:
    """Per SKU, the median of its positive list prices over the history (NaN without one)."""
    out = np.full(len(history), np.nan)
    positive = np.where(history > 0, history, np.nan)
    priced = ~np.isnan(positive).all(axis=1)
    if priced.any():
        out[priced] = np.nanmedian(positive[priced], axis=1)
    return out


def _list_prices(variant_ids: list[int], days: pd.DatetimeIndex, data_until: date) -> dict[str, np.ndarray]:
    """Per SKU and day, the list price and compare-at price in effect (the first known price stands for the days
    before it; after `data_until` the last known one holds), NaN where the SKU has no price at all."""
    count, span = len(variant_ids), len(days)
    prices, compares = np.full((count, span), np.nan), np.full((count, span), np.nan)
    changes = PriceChange.objects.filter(variant_id__in=variant_ids, effective_from__date__lte=data_until)
    by_variant: dict[int, list[tuple[date, float, float]]] = {}
    for variant_id, when, price, compare in changes.order_by("variant_id", "effective_from").values_list(
        "variant_id", "effective_from", "price", "compare_at_price"
    ):
        by_variant.setdefault(variant_id, []).append(
            (when.date(), float(price), float(compare) if compare is not None else np.nan)
        )
    current = dict(Variant.objects.filter(pk__in=variant_ids).values_list("pk", "price"))
    for row, variant_id in enumerate(variant_ids):
        steps = by_variant.get(variant_id)
        if not steps:
            if current.get(variant_id) is not None:
                prices[row] = float(current[variant_id])
            continue
        starts = np.searchsorted(days.to_numpy(), np.array([np.datetime64(day) for day, _, _ in steps]))
        index = np.clip(np.searchsorted(starts, np.arange(span), side="right") - 1, 0, None)
        prices[row] = np.array([price for _, price, _ in steps])[index]
        compares[row] = np.array([compare for _, _, compare in steps])[index]
    return {"price": prices, "compare": compares}


def _realised_discount(variant_ids, position, days, data_until, list_prices) -> np.ndarray:
    """One minus the average unit price sold over the list price, on the days with sales up to `data_until`."""
    out = np.full((len(variant_ids), len(days)), np.nan)
    sold = list(
        DailyDemand.objects.filter(variant_id__in=variant_ids, date__gte=days[0].date(), date__lte=data_until)
        .values("variant_id", "date")
        .annotate(units=Sum("units"), revenue=Sum("revenue"))
        .filter(units__gt=0)
        .values_list("variant_id", "date", "units", "revenue")
    )
    if not sold:
        return out
    first = days[0].date()
    rows = np.array([position[variant_id] for variant_id, _, _, _ in sold])
    columns = np.array([(day - first).days for _, day, _, _ in sold])
    unit_price = np.array([float(revenue) / units for _, _, units, revenue in sold])
    listed = list_prices[rows, columns]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[rows, columns] = np.where(listed > 0, 1 - unit_price / listed, np.nan)
    return out


def variant_events(variant: Variant, first: date, last: date) -> list[DemandEvent]:
    """The events that move this SKU and overlap [first, last], oldest first."""
    events = DemandEvent.objects.filter(store_id=variant.store_id, starts_on__lte=last, ends_on__gte=first)
    return [event for event in events.order_by("starts_on") if event_variants(event).filter(pk=variant.pk).exists()]


def override_variants(override: ForecastOverride) -> QuerySet[Variant]:
    """The live SKUs an override corrects: its SKUs, or those of its product type (the scope rule of events)."""
    return event_variants(override)


def apply_overrides(frame: pd.DataFrame, store: Store, freq: str) -> pd.DataFrame:
    """A forecast frame (`unique_id` the variant id, `ds` the period's last day, `mean`, bounds) with the store's
    active overrides applied: a percentage scales the mean and the bounds of the periods it covers; an absolute
    figure replaces the mean (the bounds move with it). A period the override covers in part is corrected in
    proportion to its days covered. Adds `model_mean` (the model's own) and `override` (the override's id or 0)."""
    out = frame.copy()
    if out.empty:
        return out.assign(model_mean=pd.Series(dtype=float), override=pd.Series(dtype=int))
    out["model_mean"] = out["mean"]
    out["override"] = 0
    alias = period_alias(freq)
    ends = pd.to_datetime(out["ds"])
    starts = ends.dt.to_period(alias).dt.start_time
    days = (ends - starts).dt.days + 1
    bounds = [column for column in out.columns if column.startswith(("lo-", "hi-"))]
    overrides = ForecastOverride.objects.filter(store=store, active=True, ends_on__gte=starts.min().date())
    for override in overrides.filter(starts_on__lte=ends.max().date()).order_by("created_at"):
        ids = set(override_variants(override).values_list("pk", flat=True))
        first, last = pd.Timestamp(override.starts_on), pd.Timestamp(override.ends_on)
        covered = (np.minimum(ends, last) - np.maximum(starts, first)).dt.days + 1
        share = (covered.clip(lower=0) / days).to_numpy()
        rows = out["unique_id"].astype(int).isin(ids).to_numpy() & (share > 0)
        if not rows.any():
            continue
        value = float(override.value)
        if override.method == ForecastOverride.Method.PERCENT:
            factor = 1 + share[rows] * value / 100
            for column in ["mean", *bounds]:
                out.loc[rows, column] = np.maximum(out.loc[rows, column].to_numpy(float) * factor, 0.0)
        else:
            mean = out.loc[rows, "mean"].to_numpy(float)
            shift = share[rows] * (max(value, 0.0) - mean)
            out.loc[rows, "mean"] = mean + shift
            for column in bounds:
                out.loc[rows, column] = np.maximum(out.loc[rows, column].to_numpy(float) + shift, 0.0)
        out.loc[rows, "override"] = override.pk
    for level in {column.split("-", 1)[1] for column in bounds}:
        out[f"lo-{level}"] = np.minimum(out[f"lo-{level}"], out["mean"])
        out[f"hi-{level}"] = np.maximum(out[f"hi-{level}"], out["mean"])
    return out


@dataclass(frozen=True)
class OverrideScore:
    """How an override did against what sold, beside the model it corrected, over the periods that have passed."""

    periods: int
    override_mae: float
    model_mae: float
    override_rmse: float
    model_rmse: float

    @property
    def text(self) -> str:
        """The score in words, in the active language."""
        better, worse = self.override_mae < self.model_mae, self.override_mae > self.model_mae
        figures = {name: number(getattr(self, name), 1, grouping=False) for name in SCORE_FIGURES}
        return SCORE_TEXTS["better" if better else "worse" if worse else "as good"] % {
            "periods": self.periods,
            **figures,
        }


SCORE_FIGURES = ("override_mae", "model_mae", "override_rmse", "model_rmse")
# An override's score against the model's, by how it did
SCORE_TEXTS = {
    "better": ngettext_lazy(
        "%(periods)s periods past: MAE %(override_mae)s against the model's %(model_mae)s (better); "
        "RMSE %(override_rmse)s against %(model_rmse)s",
        "%(periods)s periods past: MAE %(override_mae)s against the model's %(model_mae)s (better); "
        "RMSE %(override_rmse)s against %(model_rmse)s",
        "periods",
    ),
    "worse": ngettext_lazy(
        "%(periods)s periods past: MAE %(override_mae)s against the model's %(model_mae)s (worse); "
        "RMSE %(override_rmse)s against %(model_rmse)s",
        "%(periods)s periods past: MAE %(override_mae)s against the model's %(model_mae)s (worse); "
        "RMSE %(override_rmse)s against %(model_rmse)s",
        "periods",
    ),
    "as good": ngettext_lazy(
        "%(periods)s periods past: MAE %(override_mae)s against the model's %(model_mae)s (as good); "
        "RMSE %(override_rmse)s against %(model_rmse)s",
        "%(periods)s periods past: MAE %(override_mae)s against the model's %(model_mae)s (as good); "
        "RMSE %(override_rmse)s against %(model_rmse)s",
        "periods",
    ),
}


def override_score(override: ForecastOverride, until: date | None = None) -> OverrideScore | None:
    """The override scored on the periods it covered that ended by `until` (default: the last day that is over in
    the store's time zone; a period that ends today is still selling): the forecast it corrected is the one of the
    newest run that had finished before it was made; the actuals are the units sold in each period."""
    from inventory_ai.choices import RunStatus
    from inventory_ai.models import Forecast, ForecastRun

    if until is None:
        until = override.store.local_today() - timedelta(days=1)

    run = (
        ForecastRun.objects.filter(
            store_id=override.store_id, status=RunStatus.SUCCEEDED, finished_at__lte=override.created_at
        )  # fmt: skip
        .order_by("-finished_at")
        .first()
    )
    if run is None:
        return None
    ids = list(override_variants(override).values_list("pk", flat=True))
    rows = Forecast.objects.filter(
        run=run, variant_id__in=ids, period_end__lte=until, period_end__gte=override.starts_on,
        period_start__lte=override.ends_on,
    ).values_list("variant_id", "period_start", "period_end", "mean", "bounds")  # fmt: skip
    frame = pd.DataFrame(
        [
            {"unique_id": v, "ds": pd.Timestamp(end), "mean": mean, "start": start, **bounds}
            for v, start, end, mean, bounds in rows
        ]  # fmt: skip
    )
    if frame.empty:
        return None
    only = apply_overrides(frame.drop(columns="start"), override.store, run.freq)
    sold = pd.DataFrame(
        list(
            DailyDemand.objects.filter(variant_id__in=ids, date__gte=frame.start.min(), date__lte=until).values_list(
                "variant_id", "date", "units"
            )
        ),
        columns=["unique_id", "day", "units"],
    )
    # each day sold counts in the forecast period that holds it
    sold["ds"] = pd.to_datetime(sold["day"]).dt.to_period(period_alias(run.freq)).dt.end_time.dt.normalize()
    per_period = sold.groupby(["unique_id", "ds"])["units"].sum()
    actual = per_period.reindex(pd.MultiIndex.from_frame(frame[["unique_id", "ds"]])).fillna(0.0).to_numpy(float)
    overridden, model = only["mean"].to_numpy(float), only["model_mean"].to_numpy(float)
    return OverrideScore(
        len(actual),
        float(np.mean(np.abs(overridden - actual))),
        float(np.mean(np.abs(model - actual))),
        float(np.sqrt(np.mean((overridden - actual) ** 2))),
        float(np.sqrt(np.mean((model - actual) ** 2))),
    )
