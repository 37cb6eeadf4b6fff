"""The product's demand drivers: price changes from the stores, events and their rules, the driver frame the engine
reads (each driver's known-future rule), and a retrain that forecasts with them and says why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inventory_ai.choices import DriverSource, EventKind, EventScope, WeatherKind
from inventory_ai.models import (
    DailyDemand,
    DemandEvent,
    Forecast,
    ForecastResult,
    Location,
    PriceChange,
    Product,
    Variant,
    WeatherDay,
)
from inventory_ai.selectors.drivers import driver_frame, event_variants, weather_frame
from inventory_ai.services import drivers
from tests.retrain_helpers import drive, seed_demand
from tests.webhook_helpers import WOO_SITE, fixture, post_shopify, post_woocommerce, process_pending


@pytest.fixture
def woo_store(db):
    from inventory_ai.services.stores import upsert_store

    store, _ = upsert_store(
        "woocommerce", WOO_SITE, webhook_secret="woo-secret", timezone="America/Toronto", currency="USD",
        credentials={"consumer_key": "ck_demo", "consumer_secret": "cs_demo"},
    )  # fmt: skip
    return store


def _variant(store, platform_id="v1", product_type="", vendor=""):
    product = Product.objects.create(store=store, platform_id=f"p-{platform_id}", product_type=product_type,
                                     vendor=vendor)  # fmt: skip
    return Variant.objects.create(store=store, product=product, platform_id=platform_id, sku=platform_id, price=10)


# -- prices --------------------------------------------------------------------------------------------------------
def test_a_shopify_compare_at_price_is_kept_as_a_price_change_once(client, shop):
    # given a product webhook whose variant is on sale (compare-at above the price)
    payload = fixture("shopify", "products_update__doc_example_1")
    variant = payload["variants"][0]
    variant["price"], variant["compare_at_price"] = "8.00", "10.00"
    post_shopify(client, "products/update", payload)
    process_pending()

    # then its price change is kept with the compare-at price, on sale
    change = PriceChange.objects.get(variant__platform_id=str(variant["id"]))
    assert (change.price, change.compare_at_price, change.on_sale, change.flag) == (
        Decimal("8.00"), Decimal("10.00"), True, ""
    )  # fmt: skip
    # and the same snapshot delivered again writes nothing more
    post_shopify(client, "products/update", payload)
    process_pending()
    assert PriceChange.objects.filter(variant__platform_id=str(variant["id"])).count() == 1


def test_a_zero_price_or_a_negative_discount_is_kept_and_flagged(shop):
    variant = _variant(shop)
    when = datetime(2026, 3, 1, tzinfo=UTC)
    zero = drivers.record_price(variant, Decimal("0"), None, when)
    negative = drivers.record_price(variant, Decimal("12"), Decimal("9"), when + timedelta(days=1))
    assert zero.flag == "zero price"
    assert "negative discount" in negative.flag
    assert PriceChange.objects.filter(variant=variant).count() == 2


def test_a_woocommerce_scheduled_sale_becomes_a_markdown_event_of_its_sku(client, woo_store):
    # given a WooCommerce product with a sale price and its dates
    payload = fixture("woocommerce", "product_created__doc_example_1")
    payload.update(
        {
            "type": "simple",
            "price": "15.00",
            "regular_price": "20.00",
            "sale_price": "15.00",
            # the site's midnight in Toronto, as WooCommerce gives it in GMT
            "date_on_sale_from_gmt": "2026-12-10T05:00:00",
            "date_on_sale_to_gmt": "2026-12-18T04:59:59",
        }
    )
    post_woocommerce(client, "product.updated", payload)
    process_pending()

    # then the sale is a markdown event of that SKU with its discount, and the price change is on sale
    event = DemandEvent.objects.get(store=woo_store, source=DriverSource.WOOCOMMERCE_SALE)
    assert (event.kind, event.scope, event.discount_percent) == (EventKind.MARKDOWN, EventScope.VARIANTS, 25)
    assert (event.starts_on, event.ends_on) == (date(2026, 12, 10), date(2026, 12, 17))
    assert [v.platform_id for v in event.variants.all()] == [str(payload["id"])]
    assert PriceChange.objects.get(variant__platform_id=str(payload["id"])).on_sale


# -- events --------------------------------------------------------------------------------------------------------
def test_an_event_that_ends_before_it_starts_or_has_an_empty_scope_is_refused(shop, woo_store):
    with pytest.raises(ValidationError) as ended:
        drivers.validate_event(shop, date(2026, 5, 10), date(2026, 5, 1), EventScope.STORE)
    assert "ends (2026-05-01) before it starts" in str(ended.value)
    with pytest.raises(ValidationError, match="at least one SKU"):
        drivers.validate_event(shop, date(2026, 5, 1), date(2026, 5, 2), EventScope.VARIANTS)
    with pytest.raises(ValidationError, match="must name it"):
        drivers.validate_event(shop, date(2026, 5, 1), date(2026, 5, 2), EventScope.VENDOR, vendor=" ")
    with pytest.raises(ValidationError, match="Not in this store"):
        drivers.validate_event(shop, date(2026, 5, 1), date(2026, 5, 2), EventScope.VARIANTS,
                               variants=[_variant(woo_store, "w1")])  # fmt: skip


def test_an_event_moves_the_skus_of_its_scope(shop):
    for platform_id, product_type, vendor in (("a", "Mugs", "Acme"), ("b", "Mugs", "Other")):
        _variant(shop, platform_id, product_type, vendor)
    c = _variant(shop, "c", "Tea")
    day = date(2026, 6, 1)

    def moved(**fields):
        event = DemandEvent(store=shop, name="x", starts_on=day, ends_on=day, **fields)
        drivers.save_event(event, products=fields.pop("products", ()), variants=())
        return sorted(v.platform_id for v in event_variants(event))

    assert moved(scope=EventScope.STORE) == ["a", "b", "c"]
    assert moved(scope=EventScope.PRODUCT_TYPE, product_type="mugs") == ["a", "b"]
    assert moved(scope=EventScope.VENDOR, vendor="Acme") == ["a"]
    event = DemandEvent(store=shop, name="y", starts_on=day, ends_on=day, scope=EventScope.PRODUCTS)
    drivers.save_event(event, products=[c.product])
    assert [v.platform_id for v in event_variants(event)] == ["c"]


def test_planners_record_events_in_the_admin_and_see_them_on_the_calendar(admin_client, shop):
    variant = _variant(shop, "a")
    url = reverse("admin:inventory_ai_demandevent_add")
    fields = {"store": shop.pk, "name": "Black Friday", "kind": "promotion", "scope": "variants",
              "variants": [variant.pk], "discount_percent": "20"}  # fmt: skip
    # an end before the start is refused with the reason, and nothing is kept
    page = admin_client.post(url, {**fields, "starts_on": "2026-11-30", "ends_on": "2026-11-27"})
    assert "ends (2026-11-27) before it starts (2026-11-30)" in page.content.decode()
    assert not DemandEvent.objects.exists()
    # a valid event is kept with its SKUs and who made it
    page = admin_client.post(url, {**fields, "starts_on": "2026-11-27", "ends_on": "2026-11-30"})
    assert page.status_code == 302
    event = DemandEvent.objects.get()
    assert ([v.pk for v in event.variants.all()], event.created_by, event.source) == ([variant.pk], "admin", "manual")
    # and the month's calendar shows it on each of its days
    calendar = admin_client.get(reverse("admin:inventory_ai_demandevent_calendar"), {"month": "2026-11"})
    assert calendar.content.decode().count('class="event"') == 4


# -- the driver frame ----------------------------------------------------------------------------------------------
def test_the_driver_frame_applies_each_drivers_known_future_rule(shop):
    # given a SKU with a promotion over three days of a week, a price cut that started in the history, sales below
    # the list price, and observed, forecast and missing weather around the origin
    variant = _variant(shop, "a")
    location = Location.objects.create(store=shop, platform_id="1", is_primary=True, latitude=51.5, longitude=-0.1)
    origin = date(2026, 3, 1)  # a Sunday: the weeks end on Sundays
    drivers.record_price(variant, Decimal("10"), None, datetime(2025, 1, 1, tzinfo=UTC))
    drivers.record_price(variant, Decimal("8"), Decimal("10"), datetime(2026, 2, 23, tzinfo=UTC))
    event = DemandEvent(store=shop, name="Spring", kind=EventKind.PROMOTION, starts_on=date(2026, 3, 3),
                        ends_on=date(2026, 3, 5), scope=EventScope.VARIANTS, discount_percent=30)  # fmt: skip
    drivers.save_event(event, variants=[variant])
    DailyDemand.objects.create(variant=variant, location=location, date=origin, units=4, revenue=Decimal("24"))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for offset in range(-400, 1):  # observed up to the origin: 5 °C in early March, other weeks 15 °C
        day = origin + timedelta(days=offset)
        mean = 5.0 if day.isocalendar().week == 11 else 15.0
        WeatherDay.objects.create(location=location, day=day, kind=WeatherKind.OBSERVED, temperature_mean=mean,
                                  precipitation_mm=1.0, snowfall_cm=0.0, fetched_at=now)  # fmt: skip
    for offset in range(1, 8):  # forecast for the first week after the origin
        day = origin + timedelta(days=offset)
        WeatherDay.objects.create(
            location=location, day=day, kind=WeatherKind.FORECAST, temperature_mean=9.0, precipitation_mm=0.0,
            snowfall_cm=0.0, fetched_at=now,
        )  # fmt: skip

    # when the frame is built for two weeks ahead
    frame = driver_frame(shop, [variant.pk], "W-SUN", date(2026, 2, 16), origin, horizon=2).set_index("ds")

    # then the promotion covers 3 of the first week's 7 days, with its 30% cut
    first, second = pd.Timestamp("2026-03-08"), pd.Timestamp("2026-03-15")
    assert frame.loc[first, "promotion"] == pytest.approx(3 / 7)
    assert frame.loc[first, "discount"] == pytest.approx((3 * 0.3 + 4 * 0.2) / 7)  # the compare-at cut elsewhere
    # the last known price holds over the horizon: 8 against a usual 10
    assert frame.loc[second, "price_index"] == pytest.approx(0.8)
    assert frame.loc[pd.Timestamp("2026-02-22"), "price_index"] == pytest.approx(1.0)
    # the realised discount is history only: 6 a unit against a list price of 8
    assert frame.loc[pd.Timestamp("2026-03-01"), "realised_discount"] == pytest.approx(0.25)
    assert np.isnan(frame.loc[first, "realised_discount"])
    # the weather: forecast for the first week, then the same week's climatology (week 11: 5 °C)
    assert frame.loc[first, "temperature"] == pytest.approx(9.0)
    assert frame.loc[second, "temperature"] == pytest.approx(5.0)
    climate = weather_frame(shop, date(2026, 3, 9), date(2026, 3, 15), origin)
    assert climate["temperature"].tolist() == [5.0] * 7


# -- a retrain with drivers ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_planned_promotion_moves_the_forecast_of_its_skus_and_the_explanation_names_it(admin_client, shop, settings):
    # given a store whose SKUs sell double on the promotion days of their history
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "RETRAIN_CHUNK_SIZE": 20, "FORECAST_HORIZON": 4}
    variants = seed_demand(shop, 30, weeks=60, seed=2)
    rows = DailyDemand.objects.filter(variant__in=variants)
    last = max(rows.values_list("date", flat=True))
    promoted_weeks = [last - timedelta(weeks=week) for week in (3, 9, 15, 22, 30, 38, 45, 52)]
    for end in promoted_weeks:
        event = DemandEvent(
            store=shop, name=f"Promo {end}", kind=EventKind.PROMOTION, starts_on=end - timedelta(days=6), ends_on=end,
            scope=EventScope.STORE,
        )  # fmt: skip
        drivers.save_event(event)
        for row in rows.filter(date__gt=end - timedelta(days=7), date__lte=end):
            row.units *= 2
            row.save(update_fields=["units"])
    # and a promotion planned in the admin for the third week ahead
    start = last + timedelta(days=15)
    page = admin_client.post(
        reverse("admin:inventory_ai_demandevent_add"),
        {"store": shop.pk, "name": "Planned", "kind": "promotion", "scope": "store", "starts_on": start.isoformat(),
         "ends_on": (start + timedelta(days=6)).isoformat()},
    )  # fmt: skip
    assert page.status_code == 302

    # when the store is retrained
    from inventory_ai.services import retraining

    run = drive(retraining.start_retrain(shop))

    # then the feature models ran, the promoted week is forecast higher, and the explanation names the promotion
    assert run.status == "succeeded", run.error_log
    assert run.features_status == "done"
    results = ForecastResult.objects.filter(run=run, ok=True)
    with_reasons = [r for r in results if r.explanation.get("promotion")]
    assert len(with_reasons) >= len(results) // 2
    lifts = [r.explanation["promotion"][2] - np.mean(np.delete(r.explanation["promotion"], 2)) for r in with_reasons]
    assert np.mean(np.array(lifts) > 0) > 0.8
    # the SKUs forecast by a feature model sell more in the promoted week than in the weeks around it
    moved = []
    for result in results.filter(model__regex="lightgbm|ridge"):
        means = list(Forecast.objects.filter(run=run, variant=result.variant).order_by("period_end").values_list(
            "mean", flat=True))  # fmt: skip
        moved.append(means[2] > 1.2 * np.mean(means[:2] + means[3:]))
    assert len(moved) >= len(results) // 2
    assert np.mean(moved) > 0.8
    # and the SKU's page says why, naming the planned promotion, with the event shaded on its chart
    page = admin_client.get(reverse("admin:inventory_ai_variant_forecast", args=[with_reasons[0].variant_id]))
    text = page.content.decode()
    assert "% from promotions (Planned, " in text
    assert 'class="event-span"' in text


def test_an_event_created_after_a_run_has_its_skus_refreshed(shop, settings):
    # given a store forecast by a full run
    from inventory_ai.choices import RunKind
    from inventory_ai.services import retraining

    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "RETRAIN_CHUNK_SIZE": 7, "FORECAST_HORIZON": 4}
    variants = seed_demand(shop, 8, weeks=30)
    drive(retraining.start_retrain(shop))
    assert retraining.start_retrain(shop, RunKind.REFRESH) is None  # nothing new: no refresh

    # when a planner adds a promotion on one SKU
    event = DemandEvent(store=shop, name="Mugs week", starts_on=date.today(), ends_on=date.today(),
                        scope=EventScope.VARIANTS)  # fmt: skip
    drivers.save_event(event, variants=[variants[3]])

    # then a refresh re-forecasts that SKU
    refresh = drive(retraining.start_retrain(shop, RunKind.REFRESH))
    assert refresh.status == "succeeded", refresh.error_log
    assert list(refresh.chunks.values_list("variant_ids", flat=True)) == [[variants[3].pk]]


def test_an_event_deleted_after_a_run_is_kept_as_removed_and_its_skus_are_refreshed(shop, planner, settings):
    # given a store forecast by a full run with a promotion on two SKUs
    from inventory_ai.choices import RunKind
    from inventory_ai.models import RemovedEvent
    from inventory_ai.services import retraining

    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "RETRAIN_CHUNK_SIZE": 7, "FORECAST_HORIZON": 4}
    variants = seed_demand(shop, 8, weeks=30)
    event = DemandEvent(store=shop, name="Mugs week", starts_on=date.today(), ends_on=date.today() + timedelta(days=6),
                        scope=EventScope.VARIANTS)  # fmt: skip
    drivers.save_event(event, variants=[variants[2], variants[5]])
    drive(retraining.start_retrain(shop))
    assert retraining.start_retrain(shop, RunKind.REFRESH) is None

    # when a planner deletes it through the API
    assert _api(planner).delete(f"/api/v1/events/{event.pk}/").status_code == 204

    # then it is kept as removed, by whom, with its SKUs, and a refresh re-forecasts those SKUs without it
    removed = RemovedEvent.objects.get()
    assert (removed.name, removed.removed_by) == ("Mugs week", "pat.planner")
    assert removed.variant_ids == sorted([variants[2].pk, variants[5].pk])
    assert not DemandEvent.objects.exists()
    refresh = drive(retraining.start_retrain(shop, RunKind.REFRESH))
    assert refresh.status == "succeeded", refresh.error_log
    assert list(refresh.chunks.values_list("variant_ids", flat=True)) == [sorted([variants[2].pk, variants[5].pk])]


# -- the API -------------------------------------------------------------------------------------------------------
def _api(user):
    from rest_framework.test import APIClient

    from inventory_ai.services.api_tokens import issue_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)[1]}")
    return client


def test_planners_write_events_through_the_api_and_viewers_only_read_them(shop, planner, viewer):
    variant = _variant(shop, "MUG-1")
    body = {"store": shop.pk, "name": "Mug week", "kind": "promotion", "starts_on": "2026-12-07",
            "ends_on": "2026-12-13", "scope": "variants", "skus": ["MUG-1"], "discount_percent": "15"}  # fmt: skip
    # a viewer may read but not write
    assert _api(viewer).post("/api/v1/events/", body, format="json").status_code == 403
    # an unknown SKU, an end before the start: refused with the reason, nothing kept
    refused = _api(planner).post("/api/v1/events/", {**body, "skus": ["MUG-9"]}, format="json")
    assert (refused.status_code, refused.json()) == (400, {"skus": ["Unknown SKU(s) in this store: MUG-9"]})
    refused = _api(planner).post("/api/v1/events/", {**body, "ends_on": "2026-12-01"}, format="json")
    assert refused.status_code == 400
    assert "before it starts" in refused.json()["ends_on"][0]
    assert not DemandEvent.objects.exists()
    # a planner creates, edits and deletes
    created = _api(planner).post("/api/v1/events/", body, format="json")
    assert created.status_code == 201, created.content
    event = created.json()
    assert (event["variants"], event["created_by"], event["source"]) == ([variant.pk], "pat.planner", "manual")
    edited = _api(planner).patch(f"/api/v1/events/{event['id']}/", {"discount_percent": "25"}, format="json")
    assert (edited.status_code, edited.json()["discount_percent"]) == (200, "25.00")
    listed = _api(viewer).get("/api/v1/events/", {"store": shop.pk}).json()
    assert [row["name"] for row in listed["results"]] == ["Mug week"]
    assert _api(planner).delete(f"/api/v1/events/{event['id']}/").status_code == 204


def test_price_history_and_weather_are_read_through_the_api(shop, viewer):
    variant = _variant(shop, "a")
    drivers.record_price(variant, Decimal("9.50"), Decimal("12"), datetime(2026, 1, 5, tzinfo=UTC))
    location = Location.objects.create(store=shop, platform_id="1", latitude=51.5, longitude=-0.1)
    for offset in range(3):
        WeatherDay.objects.create(location=location, day=date(2026, 1, 1) + timedelta(days=offset),
                                  kind=WeatherKind.OBSERVED, temperature_mean=3.0 + offset,
                                  fetched_at=datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
    prices = _api(viewer).get("/api/v1/prices/", {"variant": variant.pk}).json()["results"]
    assert [(row["price"], row["compare_at_price"], row["on_sale"]) for row in prices] == [("9.50", "12.00", True)]
    weather = _api(viewer).get("/api/v1/weather/", {"location": location.pk, "since": "2026-01-02"}).json()
    assert [row["temperature_mean"] for row in weather["results"]] == [4.0, 5.0]
    assert _api(viewer).get("/api/v1/weather/", {"since": "soon"}).status_code == 400


def test_every_candidate_has_its_mse_rmse_mase_and_r2_in_the_admin_and_the_api(shop, settings, admin_client, viewer):
    from inventory_ai.services import retraining

    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "RETRAIN_CHUNK_SIZE": 10, "FORECAST_HORIZON": 4}
    seed_demand(shop, 10, weeks=40)
    run = drive(retraining.start_retrain(shop))
    result = ForecastResult.objects.filter(run=run, ok=True).exclude(model="inactive").first()
    assert set(result.accuracy) == set(result.backtest)
    assert all(set(figures) == {"mse", "rmse", "mase", "r2"} for figures in result.accuracy.values())
    chosen = result.accuracy[result.model]
    assert chosen["rmse"] ** 2 == pytest.approx(chosen["mse"])
    page = admin_client.get(reverse("admin:inventory_ai_variant_forecast", args=[result.variant_id])).content.decode()
    assert "<th>MASE</th><th>R²</th>" in page
    body = _api(viewer).get(f"/api/v1/variants/{result.variant_id}/forecast/").json()
    assert body["accuracy"][result.model]["mase"] == pytest.approx(chosen["mase"])


# -- forecast overrides --------------------------------------------------------------------------------------------
def test_a_planner_overrides_a_forecast_the_policy_plans_from_it_and_it_is_audited(admin_client, forecast_store):
    from inventory_ai.models import AuditEntry, ForecastOverride, ReorderSuggestion
    from inventory_ai.selectors.policy_inputs import forecast_frame
    from inventory_ai.services import replenishment

    shop, run, variants = forecast_store
    periods = list(Forecast.objects.filter(run=run, variant=variants[0]).order_by("period_start"))
    url = reverse("admin:inventory_ai_forecastoverride_add")
    fields = {"store": shop.pk, "scope": "variants", "variants": [variants[0].pk], "method": "percent", "value": "50",
              "starts_on": periods[1].period_start.isoformat(), "ends_on": periods[2].period_end.isoformat(),
              "active": "on"}  # fmt: skip
    # without a reason it is refused, and nothing changes
    page = admin_client.post(url, {**fields, "reason": " "})
    assert "This field is required" in page.content.decode()
    assert not ForecastOverride.objects.exists()

    # when a planner raises the second and third weeks by half, for a trade fair
    assert admin_client.post(url, {**fields, "reason": "Trade fair"}).status_code == 302
    override = ForecastOverride.objects.get()

    # then the policy's forecast of that SKU is raised in those weeks only, the model's kept beside it
    model = forecast_frame(run, [variants[0].pk]).set_index("ds")["mean"]
    planned = forecast_frame(run, [variants[0].pk], overrides=True).set_index("ds")["mean"]
    ratios = (planned / model).round(6).tolist()
    assert ratios == [1.0, 1.5, 1.5, 1.0, 1.0, 1.0]
    replenishment.recompute_suggestions(shop)
    suggestion = ReorderSuggestion.objects.filter(variant=variants[0]).order_by("-created_at").first()
    assert suggestion is not None
    # and the change is audited with who made it, and shows on the SKU's chart beside the model's forecast
    entry = AuditEntry.objects.get(target_type="override", target_id=override.pk)
    assert (entry.action, entry.actor_name, entry.after["value"], entry.after["reason"]) == (
        "create",
        "admin",
        "50",
        "Trade fair",
    )
    chart = admin_client.get(reverse("admin:inventory_ai_variant_forecast", args=[variants[0].pk])).content.decode()
    assert 'class="override"' in chart


def test_an_override_in_units_covers_a_part_of_a_period_in_proportion_and_is_scored_on_what_sold(forecast_store):
    from django.utils import timezone

    from inventory_ai.models import ForecastOverride
    from inventory_ai.selectors.drivers import apply_overrides, override_score
    from inventory_ai.selectors.policy_inputs import forecast_frame

    shop, run, variants = forecast_store
    first = Forecast.objects.filter(run=run, variant=variants[1]).order_by("period_start").first()
    override = ForecastOverride(
        store=shop, scope="variants", method="units", value=Decimal("70"), reason="Fair",
        starts_on=first.period_start, ends_on=first.period_start + timedelta(days=2),
    )  # fmt: skip
    drivers.save_override(override, [variants[1]])
    frame = forecast_frame(run, [variants[1].pk])
    corrected = apply_overrides(frame, shop, run.freq)
    # three of the week's seven days at 70 units a week, the other four at the model's rate
    expected = first.mean + 3 / 7 * (70 - first.mean)
    assert corrected.iloc[0]["mean"] == pytest.approx(expected)
    assert corrected.iloc[1]["mean"] == pytest.approx(frame.iloc[1]["mean"])
    # once that week has passed, the override is scored against what sold, beside the model
    ForecastOverride.objects.filter(pk=override.pk).update(created_at=timezone.now())
    location = Location.objects.get(store=shop)
    for offset in range(7):
        day = first.period_start + timedelta(days=offset)
        DailyDemand.objects.update_or_create(variant=variants[1], location=location, date=day, defaults={"units": 5})
    score = override_score(ForecastOverride.objects.get(pk=override.pk), first.period_end)
    assert score.periods == 1
    assert score.override_mae == pytest.approx(abs(expected - 35))
    assert score.model_mae == pytest.approx(abs(first.mean - 35))
    assert "periods past: MAE" in score.text
    negative = ForecastOverride(
        store=shop, scope="variants", method="units", value=-1, reason="x", starts_on=first.period_start,
        ends_on=first.period_end,
    )  # fmt: skip
    with pytest.raises(ValidationError, match="cannot be negative"):
        drivers.save_override(negative, [variants[1]])


def test_planners_override_forecasts_through_the_api_and_viewers_only_read_them(forecast_store, planner, viewer):
    from inventory_ai.models import AuditEntry, ForecastOverride
    from inventory_ai.selectors.policy_inputs import forecast_frame

    shop, run, variants = forecast_store
    periods = list(Forecast.objects.filter(run=run, variant=variants[0]).order_by("period_start"))
    body = {"store": shop.pk, "scope": "variants", "skus": [variants[0].sku], "method": "percent", "value": "-20",
            "starts_on": periods[0].period_start.isoformat(), "ends_on": periods[1].period_end.isoformat(),
            "reason": "Competitor's sale"}  # fmt: skip
    # a viewer may not write; a missing reason, an unknown SKU, a cut of 100% or more are refused with the reason
    assert _api(viewer).post("/api/v1/overrides/", body, format="json").status_code == 403
    refused = _api(planner).post("/api/v1/overrides/", {**body, "reason": " "}, format="json")
    assert refused.status_code == 400
    assert refused.json()["reason"] == ["This field may not be blank."]
    refused = _api(planner).post("/api/v1/overrides/", {**body, "skus": ["NOPE"]}, format="json")
    assert refused.json() == {"skus": ["Unknown SKU(s) in this store: NOPE"]}
    assert _api(planner).post("/api/v1/overrides/", {**body, "value": "-100"}, format="json").status_code == 400
    assert not ForecastOverride.objects.exists()

    # when a planner lowers the first two periods by a fifth
    created = _api(planner).post("/api/v1/overrides/", body, format="json")

    # then the policy plans from the lowered forecast, the change is audited as the planner's through the API
    assert created.status_code == 201, created.content
    override = ForecastOverride.objects.get()
    assert (created.json()["variants"], created.json()["created_by"]) == ([variants[0].pk], "pat.planner")
    model = forecast_frame(run, [variants[0].pk]).set_index("ds")["mean"]
    planned = forecast_frame(run, [variants[0].pk], overrides=True).set_index("ds")["mean"]
    assert (planned / model).round(6).tolist()[:3] == [0.8, 0.8, 1.0]
    entry = AuditEntry.objects.get(target_type="override", target_id=override.pk)
    assert (entry.action, entry.actor_name, entry.source) == ("create", "pat.planner", "api")
    # it is turned off, never deleted; viewers read it with its score (none until a period has passed)
    off = _api(planner).patch(f"/api/v1/overrides/{override.pk}/", {"active": False}, format="json")
    assert (off.status_code, off.json()["active"]) == (200, False)
    assert _api(planner).delete(f"/api/v1/overrides/{override.pk}/").status_code == 403  # no one may delete
    assert ForecastOverride.objects.filter(pk=override.pk).exists()
    listed = _api(viewer).get("/api/v1/overrides/", {"store": shop.pk}).json()["results"]
    assert [(row["reason"], row["active"], row["score"]) for row in listed] == [("Competitor's sale", False, None)]


def test_the_variant_page_draws_the_price_and_the_weather_under_the_demand_chart(admin_client, forecast_store):
    from django.utils import timezone

    from inventory_ai.selectors.drivers import period_drivers

    # given a SKU whose price was cut (on sale) four weeks ago, and the weather of the store's located warehouse
    shop, run, variants = forecast_store
    variant = variants[0]
    shop.latitude, shop.longitude = 51.5, -0.1
    shop.save(update_fields=["latitude", "longitude"])
    today = timezone.localdate()
    drivers.record_price(variant, Decimal("10.00"), None, timezone.now() - timedelta(weeks=30))
    drivers.record_price(variant, Decimal("8.00"), Decimal("10.00"), timezone.now() - timedelta(weeks=4))
    location = Location.objects.filter(store=shop).order_by("-is_primary").first() or Location.objects.create(
        store=shop, platform_id="wh", name="Warehouse", is_primary=True
    )
    for offset in range(-200, 60):
        day = today + timedelta(days=offset)
        WeatherDay.objects.create(
            location=location, day=day, kind=WeatherKind.OBSERVED if offset <= 0 else WeatherKind.FORECAST,
            temperature_mean=-2.0 + offset % 10, precipitation_mm=float(offset % 3), fetched_at=timezone.now(),
        )  # fmt: skip

    # when a planner opens the SKU's forecast page
    page = admin_client.get(reverse("admin:inventory_ai_variant_forecast", args=[variant.pk])).content.decode()

    # then under the demand chart: the list price with the sale marked, the temperature and the precipitation
    assert 'class="drivers-chart"' in page
    assert '<polyline class="price"' in page
    assert '<circle class="on-sale"' in page
    assert '<polyline class="temperature"' in page
    assert '<rect class="precipitation"' in page
    # and per period the figures are the price in effect at its end and the weather the forecast reads
    weeks = [(today - timedelta(days=6 + 7 * k), today - timedelta(days=7 * k)) for k in (8, 1)]
    old, recent = period_drivers(variant, weeks, today)
    assert (old.price, old.on_sale, recent.price, recent.on_sale) == (10.0, False, 8.0, True)
    assert recent.precipitation == sum(float(offset % 3) for offset in range(-13, -6))


def test_the_statistical_member_of_a_pair_is_the_base_of_its_reasons():
    from inventory_ai.selectors.reasons import forecast_reasons

    # given the explanation of a forecast averaging the trees with IMAPA: the trees' groups, and IMAPA's half of the
    # forecast under its own name (its reading of the SKU's own sales)
    explanation = {"level": [5, 5], "promotion": [2, 2], "imapa": [9, 9]}

    reasons = forecast_reasons(explanation)

    # then only the promotion is a reason, measured against everything else, IMAPA's half included (before, IMAPA's
    # half read as "+129% from imapa")
    assert [reason.group for reason in reasons] == ["promotions"]
    assert reasons[0].percent == pytest.approx(100 * 4 / 28)
