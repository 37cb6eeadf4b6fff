"""Reads used by views, the admin and the API."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import pandas as pd
from django.db.models import Count, DecimalField, ExpressionWrapper, F, IntegerField, Max, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from forecasting.data import period_alias
from inventory_ai.charts import ForecastPeriod, Period
from inventory_ai.choices import AdjustmentStatus, OrderStatus, PurchaseOrderStatus, SuggestionStatus, WebhookStatus
from inventory_ai.conf import get_option
from inventory_ai.models import (
    DailyDemand,
    Forecast,
    ForecastResult,
    ForecastRun,
    InventoryLevel,
    Order,
    OrderLine,
    PriceChange,
    PurchaseOrder,
    ReorderSuggestion,
    StockAdjustment,
    Store,
    Variant,
    WebhookEvent,
)
from inventory_ai.selectors import drivers
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.selectors.model_names import demand_class_label, model_label
from inventory_ai.selectors.reasons import forecast_reasons, reason_text

# Units a line contributes to demand: the same rule as inventory_ai.services.demand.line_net_units, in SQL.
NET_LINE_UNITS = Greatest(Value(0), Least(F("current_quantity"), F("quantity") - F("refunded_quantity")))


def stats(store: Store | None = None) -> dict:
    """Operator counts: webhook events by status, stores, variants, orders, lines, and net units sold; of one store
    when given (cheap on a deployment with millions of order lines: only that store's rows are counted)."""
    events, variants, orders, lines = WebhookEvent.objects.all(), Variant.objects.all(), Order.objects.all(), (
        OrderLine.objects.all())  # fmt: skip
    if store is not None:
        events, variants, orders = events.filter(store=store), variants.filter(store=store), orders.filter(store=store)
        lines = lines.filter(order__store=store)
    by_status = dict(events.values_list("status").annotate(count=Count("pk")).order_by())
    net_units = lines.filter(order__status=OrderStatus.OPEN).aggregate(units=Sum(NET_LINE_UNITS))["units"]
    stores = Store.objects.filter(pk=store.pk) if store is not None else Store.objects.all()
    return {
        "webhook_events": {s: by_status.get(s, 0) for s in ("received", "processed", "ignored", "failed")},
        "stores": stores.count(),
        "active_stores": stores.filter(active=True).count(),
        "variants": variants.filter(deleted_at__isnull=True).count(),
        "orders": orders.count(),
        "open_orders": orders.filter(status=OrderStatus.OPEN).count(),
        "order_lines": lines.count(),
        "net_units": int(net_units or 0),
    }


# --- Dashboard ---------------------------------------------------------------------------------------------------

SUGGESTION_VALUE = ExpressionWrapper(
    F("unit_cost") * Coalesce(F("approved_qty"), F("suggested_qty")),
    output_field=DecimalField(max_digits=18, decimal_places=4),
)


LATE, THIS_WEEK, LATER = "late", "this_week", "later"
RISKS = {
    LATE: _("Late: stocks out before an order placed today can arrive"),
    THIS_WEEK: _("Order this week"),
    LATER: _("Fine for now: order later"),
}


def risk_filter(risk: str, today) -> Q:
    """The suggestions of one urgency: when an order must be placed (`order_by`) against today."""
    week = today + timedelta(days=7)
    if risk == LATE:
        return Q(order_by__lte=today)
    if risk == THIS_WEEK:
        return Q(order_by__gt=today, order_by__lte=week)
    return Q(order_by__isnull=True) | Q(order_by__gt=week)


def risk_of(order_by, today) -> str:
    if order_by is None or order_by > today + timedelta(days=7):
        return LATER
    return LATE if order_by <= today else THIS_WEEK


def risk_counts(queryset=None, today=None) -> dict[str, int]:
    """Pending suggestions by urgency."""
    today = today or timezone.localdate()
    pending = (ReorderSuggestion.objects.all() if queryset is None else queryset).filter(
        status=SuggestionStatus.PENDING
    )
    return pending.aggregate(**{risk: Count("pk", filter=risk_filter(risk, today)) for risk in RISKS})


def _late_orders() -> dict:
    """Sent purchase orders past their expected arrival with units still awaited."""
    rows = PurchaseOrder.objects.filter(
        status__in=(PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED),
        expected_on__lt=timezone.localdate(),
    ).select_related("supplier", "store")
    return {"count": rows.count(), "latest": list(rows.order_by("expected_on")[:10])}


def _auto_approved(since) -> dict:
    """What the stores' rules approved on their own since a time: how many, their value, the latest ten."""
    rows = ReorderSuggestion.objects.filter(approved_by_rule__isnull=False, decided_at__gte=since)
    latest = list(rows.select_related("variant__product", "approved_by_rule", "store").order_by("-decided_at")[:10])
    value = sum((row.value or 0 for row in rows.only("approved_qty", "suggested_qty", "unit_cost")), 0)
    return {"count": rows.count(), "value": value, "latest": latest}


def at_risk_suggestions(queryset=None):
    """Pending suggestions whose stock runs out before an order placed today could arrive (within the lead time)."""
    queryset = ReorderSuggestion.objects.all() if queryset is None else queryset
    today = timezone.localdate()
    return queryset.filter(status=SuggestionStatus.PENDING, order_by__lte=today).order_by("stockout_date")


def dashboard(now=None) -> dict:
    """What needs a planner's attention, for the admin's front page."""
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    pending = ReorderSuggestion.objects.filter(status=SuggestionStatus.PENDING)
    suggestions = pending.aggregate(count=Count("pk"), value=Sum(SUGGESTION_VALUE), units=Sum("suggested_qty"))
    pending_change = ExpressionWrapper(F("new_available") - F("expected_available"), output_field=IntegerField())
    adjustments = StockAdjustment.objects.aggregate(
        pending=Count("pk", filter=Q(status=AdjustmentStatus.PENDING)),
        units=Sum(pending_change, filter=Q(status=AdjustmentStatus.PENDING)),
        value=Sum(
            ExpressionWrapper(
                pending_change * F("variant__unit_cost"), output_field=DecimalField(max_digits=18, decimal_places=4)
            ),
            filter=Q(status=AdjustmentStatus.PENDING),
        ),
        approved=Count("pk", filter=Q(status__in=[AdjustmentStatus.APPROVED, AdjustmentStatus.PUSHING])),
        attention=Count("pk", filter=Q(status__in=[AdjustmentStatus.CONFLICT, AdjustmentStatus.FAILED])),
    )
    risky = at_risk_suggestions().select_related("variant__product", "store")
    webhooks = WebhookEvent.objects.filter(received_at__gte=since).aggregate(
        received=Count("pk"),
        processed=Count("pk", filter=Q(status=WebhookStatus.PROCESSED)),
        ignored=Count("pk", filter=Q(status=WebhookStatus.IGNORED)),
        failed=Count("pk", filter=Q(status=WebhookStatus.FAILED)),
    )
    oldest = (
        WebhookEvent.objects.filter(status=WebhookStatus.RECEIVED).order_by("received_at").values("received_at").first()
    )
    stores = []
    for store in Store.objects.annotate(
        variant_count=Count("variants", filter=Q(variants__deleted_at__isnull=True), distinct=True),
    ).order_by("domain"):
        last_run = ForecastRun.objects.filter(store=store).order_by("-created_at", "-pk").first()
        current = current_run(store)
        last_event = store.webhook_events.aggregate(at=Max("received_at"))["at"]
        stores.append({"store": store, "last_run": last_run, "current": current, "last_event": last_event})
    return {
        "suggestions": {
            "count": suggestions["count"],
            "value": suggestions["value"] or 0,
            "units": suggestions["units"] or 0,
        },
        "adjustments": adjustments,
        "at_risk_count": risky.count(),
        "auto_approved": _auto_approved(since),
        "late_orders": _late_orders(),
        "risks": risk_counts(),
        "at_risk": list(risky[:10]),
        "webhooks": {**webhooks, "failed_total": WebhookEvent.objects.filter(status=WebhookStatus.FAILED).count()},
        "oldest_unprocessed": oldest["received_at"] if oldest else None,
        "oldest_unprocessed_age": (now - oldest["received_at"]) if oldest else None,
        "stores": stores,
    }


# --- A variant's forecast page -----------------------------------------------------------------------------------

HISTORY_PERIODS = 52


@dataclass
class VariantOverview:
    """Everything the variant forecast page shows."""

    variant: Variant
    run: ForecastRun | None
    history: list[Period]
    forecast: list[ForecastPeriod]
    result: ForecastResult | None
    candidates: list[dict]
    suggestion: ReorderSuggestion | None
    levels: list[InventoryLevel]
    events: list = field(default_factory=list)  # the SKU's demand events over the chart's periods
    reasons: list = field(default_factory=list)  # "why this forecast" (`reasons.forecast_reasons`)
    prices: list = field(default_factory=list)  # its price changes over the chart's periods
    suggestion_reason: str = ""  # the suggestion's reason in the active language (`reasons.reason_text`)

    @property
    def available(self) -> int:
        return sum(level.available for level in self.levels)

    @property
    def chosen_model(self) -> str:
        return model_label(self.result.model) if self.result is not None and self.result.model else ""

    @property
    def demand_class(self) -> str:
        return demand_class_label(self.result.demand_class) if self.result is not None else ""


def variant_overview(variant: Variant, history_periods: int = HISTORY_PERIODS) -> VariantOverview:
    """The variant's demand per forecast period (out-of-stock periods flagged), its current forecast with intervals,
    the chosen model against the alternatives it was backtested with, its latest suggestion and stock levels."""
    freq = get_option("FORECAST_FREQ")
    run = current_run(variant.store)
    rows = list(Forecast.objects.filter(run=run, variant=variant).order_by("period_start")) if run else []
    forecast = [
        ForecastPeriod(
            start=row.period_start,
            end=row.period_end,
            mean=row.mean,
            intervals={
                int(key[3:]): (row.bounds[key], row.bounds.get(f"hi-{key[3:]}", row.mean))
                for key in row.bounds
                if key.startswith("lo-")
            },
        )
        for row in rows
    ]
    alias = period_alias(freq)
    last = (
        pd.Timestamp(rows[0].period_start) - pd.Timedelta(days=1)
        if rows
        else pd.Period(timezone.localdate(), freq=alias).start_time - pd.Timedelta(days=1)
    )
    last_period = pd.Period(last, freq=alias)
    first_period = last_period - (history_periods - 1)
    daily = pd.DataFrame(
        DailyDemand.objects.filter(
            variant=variant, date__gte=first_period.start_time.date(), date__lte=last_period.end_time.date()
        ).values_list("date", "units", "out_of_stock"),
        columns=["date", "units", "out_of_stock"],
    )
    history = []
    if not daily.empty:
        daily["period"] = pd.to_datetime(daily["date"]).dt.to_period(alias)
        weekly = daily.groupby("period").agg(units=("units", "sum"), out_of_stock=("out_of_stock", "any"))
    else:
        weekly = pd.DataFrame(columns=["units", "out_of_stock"])
    for period in pd.period_range(first_period, last_period, freq=alias):
        units, out = (
            (weekly.loc[period, "units"], weekly.loc[period, "out_of_stock"]) if period in weekly.index else (0, False)
        )
        history.append(
            Period(
                start=period.start_time.date(), end=period.end_time.date(), units=float(units), out_of_stock=bool(out)
            )
        )
    result = ForecastResult.objects.filter(run=run, variant=variant).first() if run else None
    candidates = []
    if result is not None:
        candidates = sorted(
            (
                {
                    "model": name,
                    "label": model_label(name),
                    "rmsse": score,
                    "chosen": name == result.model,
                    **result.accuracy.get(name, {}),
                }  # fmt: skip
                for name, score in result.backtest.items()
            ),
            key=lambda row: (row["rmsse"] is None, row["rmsse"] if row["rmsse"] is not None else 0),
        )
    # The pending suggestion if there is one, else the newest decided.
    suggestions = ReorderSuggestion.objects.filter(variant=variant).order_by("-created_at")
    suggestion = suggestions.filter(status=SuggestionStatus.PENDING).first() or suggestions.first()
    levels = list(InventoryLevel.objects.filter(variant=variant).select_related("location").order_by("location__name"))
    if forecast:
        frame = pd.DataFrame([{"unique_id": variant.pk, "ds": pd.Timestamp(p.end), "mean": p.mean} for p in forecast])
        corrected = drivers.apply_overrides(frame, variant.store, freq)
        forecast = [
            replace(period, override=float(row.mean) if row.override else None)
            for period, row in zip(forecast, corrected.itertuples(), strict=True)
        ]
    first_day = history[0].start if history else (forecast[0].start if forecast else timezone.localdate())
    last_day = forecast[-1].end if forecast else (history[-1].end if history else first_day)
    events = drivers.variant_events(variant, first_day, last_day)
    upcoming = [event for event in events if forecast and event.ends_on >= forecast[0].start]
    reasons = forecast_reasons(result.explanation if result else {}, upcoming)
    prices = list(
        PriceChange.objects.filter(variant=variant, effective_from__date__gte=first_day).order_by("effective_from")
    )
    return VariantOverview(
        variant, run, history, forecast, result, candidates, suggestion, levels, events, reasons, prices,
        suggestion_reason=reason_text(suggestion) if suggestion is not None else "",
    )  # fmt: skip
