"""Restock suggestions from the current forecast: levels, reasons, precedence of policies, recomputation, decisions."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory_ai.choices import SuggestionStatus
from inventory_ai.models import ClassPolicy, InventoryLevel, ReorderSuggestion, Variant
from inventory_ai.selectors import policy_inputs
from inventory_ai.selectors.forecasts import last_complete_day
from inventory_ai.services import replenishment

pytestmark = pytest.mark.django_db


def test_suggestions_follow_the_forecast_and_explain_themselves(forecast_store):
    shop, run, variants = forecast_store

    # when suggestions are computed after the retrain
    counts = replenishment.recompute_suggestions(shop)

    # then the fast movers (5 in stock, a few a day) get an order up to their level, with a reason an admin reads
    assert counts["created"] >= 8
    steady = ReorderSuggestion.objects.get(variant=variants[0], status=SuggestionStatus.PENDING)
    assert steady.forecast_run == run
    assert steady.available == 5
    assert steady.suggested_qty == steady.order_up_to - 5
    assert steady.reorder_point <= steady.order_up_to
    assert steady.lead_time_days == 14
    assert steady.service_measure == "fill_rate"
    assert steady.expected_fill_rate >= 0.95
    assert "week lead time" in steady.reason
    assert f"→ order {steady.suggested_qty:,}" in steady.reason
    assert "95% fill rate needs" in steady.reason
    # every variant has an ABC and an XYZ class
    assert set(Variant.objects.filter(store=shop).values_list("abc_class", flat=True)) <= {"A", "B", "C"}
    assert "" not in set(Variant.objects.filter(store=shop).values_list("xyz_class", flat=True))


def test_recomputing_keeps_equal_suggestions_and_supersedes_changed_ones(forecast_store):
    shop, _, variants = forecast_store
    replenishment.recompute_suggestions(shop)
    first = ReorderSuggestion.objects.get(variant=variants[0], status=SuggestionStatus.PENDING)

    # the same numbers: nothing new
    counts = replenishment.recompute_suggestions(shop, [variants[0].pk])
    assert counts["kept"] == 1
    assert ReorderSuggestion.objects.filter(variant=variants[0]).count() == 1

    # a restock arrived: the pending suggestion is superseded by a smaller one (or by none)
    InventoryLevel.objects.filter(variant=variants[0]).update(available=first.order_up_to - 2)
    replenishment.recompute_suggestions(shop, [variants[0].pk])
    first.refresh_from_db()
    assert first.status == SuggestionStatus.SUPERSEDED
    newer = ReorderSuggestion.objects.filter(variant=variants[0], status=SuggestionStatus.PENDING).first()
    assert newer is None or newer.suggested_qty < first.suggested_qty


def test_variant_settings_beat_class_policies_which_beat_store_defaults(forecast_store):
    shop, _, variants = forecast_store
    replenishment.recompute_suggestions(shop)
    variant = Variant.objects.get(pk=variants[0].pk)
    base = ReorderSuggestion.objects.get(variant=variant, status=SuggestionStatus.PENDING)

    # a class policy raises the service level of the variant's class
    ClassPolicy.objects.create(store=shop, abc_class=variant.abc_class, service_level=0.99)
    replenishment.recompute_suggestions(shop, [variant.pk])
    by_class = ReorderSuggestion.objects.get(variant=variant, status=SuggestionStatus.PENDING)
    assert by_class.service_level == 0.99
    assert by_class.order_up_to >= base.order_up_to

    # the variant's own settings win: a 90% target, a 4-week lead time, cases of 10
    Variant.objects.filter(pk=variant.pk).update(service_level=0.9, lead_time_days=28, case_pack=10)
    replenishment.recompute_suggestions(shop, [variant.pk])
    own = ReorderSuggestion.objects.get(variant=variant, status=SuggestionStatus.PENDING)
    assert (own.service_level, own.lead_time_days) == (0.9, 28)
    assert own.suggested_qty % 10 == 0
    assert "cases of 10" in own.reason


def test_an_approved_restock_counts_as_on_order_until_its_purchase_order_ends(forecast_store):
    shop, _, variants = forecast_store
    replenishment.recompute_suggestions(shop, [variants[0].pk])
    suggestion = ReorderSuggestion.objects.get(variant=variants[0], status=SuggestionStatus.PENDING)
    planner = get_user_model().objects.create_user("planner")

    # when a planner approves it with an edited quantity
    assert replenishment.decide_suggestion(suggestion, approve=True, user=planner, quantity=suggestion.suggested_qty)
    assert suggestion.status == SuggestionStatus.APPROVED
    assert suggestion.decided_by == planner
    assert not replenishment.decide_suggestion(suggestion, approve=False, user=planner)  # decided once

    # then the next computation sees it on order (a line of its supplier's draft purchase order) and suggests
    # nothing more, however long the order takes: it stays on order until it is received or cancelled
    replenishment.recompute_suggestions(shop, [variants[0].pk])
    assert not ReorderSuggestion.objects.filter(variant=variants[0], status=SuggestionStatus.PENDING).exists()
    ReorderSuggestion.objects.filter(pk=suggestion.pk).update(decided_at=timezone.now() - timedelta(days=60))
    replenishment.recompute_suggestions(shop, [variants[0].pk])
    assert not ReorderSuggestion.objects.filter(variant=variants[0], status=SuggestionStatus.PENDING).exists()
    assert suggestion.purchase_order_lines.get().purchase_order.status == "draft"


def test_no_forecast_no_suggestions(shop):
    assert replenishment.recompute_suggestions(shop) == {"no_forecast": 1}


def test_a_stock_level_from_the_store_recomputes_that_variants_suggestion(
    forecast_store, monkeypatch, django_capture_on_commit_callbacks
):
    from integrations import records
    from inventory_ai import dispatch
    from inventory_ai.services.records import apply_records

    shop, _, variants = forecast_store
    replenishment.recompute_suggestions(shop)
    before = ReorderSuggestion.objects.get(variant=variants[0], status=SuggestionStatus.PENDING)
    sent = []
    monkeypatch.setattr(
        dispatch.app,
        "send_task",
        lambda name, args, **options: sent.append(args) if name.endswith("suggestions_task") else None,
    )

    # when the store reports a restock of that variant
    record = records.InventoryLevelRecord(
        available=before.order_up_to, updated_at=timezone.now(), variant_id=variants[0].platform_id, location_id="1"
    )
    with django_capture_on_commit_callbacks(execute=True):
        apply_records(shop, [record])

    # then a recomputation of that one variant is enqueued after the commit, and it drops the pending order
    assert sent == [(shop.pk, None, [variants[0].pk])]
    replenishment.recompute_suggestions(shop, variant_ids=sent[0][2])
    before.refresh_from_db()
    assert before.status == SuggestionStatus.SUPERSEDED
    assert not ReorderSuggestion.objects.filter(variant=variants[0], status=SuggestionStatus.PENDING).exists()


def test_a_store_wide_fill_rate_is_shared_out_at_less_stock_value(forecast_store):
    # given the store's items priced from cheap to dear, first each at the 95% fill rate
    from decimal import Decimal

    from inventory_ai.choices import FillRateScope

    shop, _, variants = forecast_store
    for number, variant in enumerate(variants):
        Variant.objects.filter(pk=variant.pk).update(unit_cost=Decimal(1 + 9 * number))
    replenishment.recompute_suggestions(shop)
    per_item = {s.variant_id: s for s in ReorderSuggestion.objects.filter(status=SuggestionStatus.PENDING)}

    # when the store asks for 95% over its items together
    shop.fill_rate_scope = FillRateScope.STORE
    shop.save()
    replenishment.recompute_suggestions(shop)
    together = {s.variant_id: s for s in ReorderSuggestion.objects.filter(status=SuggestionStatus.PENDING)}

    # then the items' expected fill rates, weighted by their demand, still reach 95%
    def served(suggestions):
        demand = {pk: s.weekly_demand for pk, s in suggestions.items()}
        return sum(s.expected_fill_rate * demand[pk] for pk, s in suggestions.items()) / sum(demand.values())

    assert served(together) >= 0.95 - 1e-9

    # and the stock they aim at is worth less, with cheap items held at least as well as dear ones
    def value(suggestions):
        return sum(float(s.unit_cost) * s.order_up_to for s in suggestions.values())

    assert value(together) < value(per_item)
    fills = [together[v.pk].expected_fill_rate for v in variants if v.pk in together]
    assert len(fills) >= 8
    assert fills[0] >= fills[-1]
    reason = next(iter(together.values())).reason
    assert "95% fill rate over the store's items" in reason
    assert "of this one's demand" in reason

    # and recomputing one item after a stock change keeps its share (the others are still counted, the share-out
    # is reused rather than computed again)
    one = variants[0]
    before = together.get(one.pk)
    with mock.patch.object(policy_inputs, "allocate_fill_rate", side_effect=AssertionError("computed again")):
        counts = replenishment.recompute_suggestions(shop, [one.pk])
    assert counts["kept"] + counts["none_needed"] + counts["created"] + counts["superseded"] == 1
    after = ReorderSuggestion.objects.filter(variant=one, status=SuggestionStatus.PENDING).first()
    assert (before is None) == (after is None)
    if before is not None:
        assert after.order_up_to == before.order_up_to

    # and a changed setting shares the fill rate out again
    Variant.objects.filter(pk=one.pk).update(unit_cost=Decimal(500))
    with mock.patch.object(policy_inputs, "allocate_fill_rate", wraps=policy_inputs.allocate_fill_rate) as shared:
        replenishment.recompute_suggestions(shop, [one.pk])
    assert shared.called


@pytest.fixture
def tracked_store(shop, settings):
    """A store whose current run was made two weeks before its latest recorded sales, with 5 of each in stock."""
    from inventory_ai.models import Location
    from inventory_ai.services import retraining
    from tests.retrain_helpers import drive, seed_demand

    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "FORECAST_HORIZON": 6, "RETRAIN_CHUNK_SIZE": 6}
    variants = seed_demand(shop, 6, weeks=30)
    last = last_complete_day(shop, "W-SUN")
    run = drive(retraining.start_retrain(shop, as_of=last - timedelta(days=13)))
    assert (last - run.data_until).days == 14
    location = Location.objects.get(store=shop)
    for variant in variants:
        InventoryLevel.objects.create(
            variant=variant, location=location, available=5, platform_updated_at=timezone.now()
        )
    return shop, run, variants


def test_suggestions_track_the_sales_recorded_since_the_run(tracked_store):
    from django.db.models import F

    from inventory_ai.models import DailyDemand

    shop, run, variants = tracked_store
    steady = variants[0]

    # given the run's first two weeks have ended and their sales are recorded
    frame = policy_inputs.forecast_frame(run, None)
    ahead, factors = policy_inputs.track_sales(shop, run, frame)

    # then only the weeks still ahead are read, each item scaled by its sales against the forecast
    assert ahead["ds"].min() > pd.Timestamp(run.data_until + timedelta(days=14))
    assert len(ahead) == len(frame) - 2 * frame["unique_id"].nunique()
    assert factors.between(0.25, 4.0).all()
    replenishment.recompute_suggestions(shop)
    before = ReorderSuggestion.objects.get(variant=steady, status=SuggestionStatus.PENDING)

    # when the steady item turns out to have sold four times as much since the run
    DailyDemand.objects.filter(variant=steady, date__gt=run.data_until).update(units=F("units") * 4)
    replenishment.recompute_suggestions(shop, [steady.pk])

    # then its level follows the sales, and the reason says why
    after = ReorderSuggestion.objects.get(variant=steady, status=SuggestionStatus.PENDING)
    assert after.order_up_to > 1.5 * before.order_up_to
    assert after.forecast_run == run
    assert f"sales since {run.data_until:%d %b} ran at" in after.reason
    assert "× the forecast" in after.reason


def test_a_store_whose_recorded_sales_stop_at_the_run_is_read_as_the_run_left_it(tracked_store):
    from inventory_ai.models import DailyDemand

    shop, run, _ = tracked_store
    # given no sales recorded after the run's history (imported data, a paused sync)
    DailyDemand.objects.filter(variant__store=shop, date__gt=run.data_until).delete()

    # when the run is read for suggestions
    frame = policy_inputs.forecast_frame(run, None)
    ahead, factors = policy_inputs.track_sales(shop, run, frame)

    # then nothing is tracked: the store did not stop selling, its record did
    assert factors is None
    pd.testing.assert_frame_equal(ahead, frame)


def test_a_store_wide_share_out_is_computed_again_when_new_sales_are_recorded(tracked_store):
    from django.db.models import F

    from inventory_ai.choices import FillRateScope
    from inventory_ai.models import DailyDemand

    shop, run, variants = tracked_store
    shop.fill_rate_scope = FillRateScope.STORE
    shop.save()
    replenishment.recompute_suggestions(shop)

    # when sales since the run are corrected (a late refund halves them) and one item is recomputed
    DailyDemand.objects.filter(variant=variants[1], date__gt=run.data_until).update(units=F("units") / 2)
    with mock.patch.object(policy_inputs, "allocate_fill_rate", wraps=policy_inputs.allocate_fill_rate) as shared:
        replenishment.recompute_suggestions(shop, [variants[0].pk])

    # then the share-out is not reused: the tracked forecasts it rests on changed
    assert shared.called


def test_a_store_wide_fill_rate_is_asked_for_more_when_recent_forecasts_fell_short(shop, settings):
    from django.db.models import F

    from inventory_ai.choices import FillRateScope
    from inventory_ai.models import DailyDemand, Location
    from inventory_ai.services import retraining
    from tests.retrain_helpers import drive, seed_demand

    # given runs made 8 and 4 weeks ago and today, and sales over the last 8 weeks four times what came before
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "FORECAST_HORIZON": 6, "RETRAIN_CHUNK_SIZE": 6}
    variants = seed_demand(shop, 6, weeks=30)
    last = last_complete_day(shop, "W-SUN")
    old = drive(retraining.start_retrain(shop, as_of=last - timedelta(days=55)))
    DailyDemand.objects.filter(variant__store=shop, date__gt=old.data_until).update(units=F("units") * 4)
    drive(retraining.start_retrain(shop, as_of=last - timedelta(days=27)))
    current = drive(retraining.start_retrain(shop))
    location = Location.objects.get(store=shop)
    for variant in variants:
        InventoryLevel.objects.create(
            variant=variant, location=location, available=5, platform_updated_at=timezone.now()
        )
    shop.fill_rate_scope = FillRateScope.STORE
    shop.save()

    # when suggestions are computed from the current run
    with mock.patch.object(policy_inputs, "allocate_fill_rate", wraps=policy_inputs.allocate_fill_rate) as shared:
        replenishment.recompute_suggestions(shop)

    # then the share-out is asked for more than 95%: replayed over the earlier runs, 95% served less
    asked = shared.call_args.kwargs["target"]
    assert 0.95 < asked <= 0.999
    suggestion = ReorderSuggestion.objects.filter(status=SuggestionStatus.PENDING, forecast_run=current).first()
    assert suggestion is not None
    assert f"asked of the forecasts as {asked:.1%}" in suggestion.reason


def test_the_fill_rate_calibration_replays_eight_weeks_from_the_runs_kept(shop, settings):
    from inventory_ai.choices import FillRateScope
    from inventory_ai.services import retraining
    from tests.retrain_helpers import drive, seed_demand

    # given runs whose history ended 12, 10, 8 and 4 weeks ago, two made the same day 4 weeks ago, and today's
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "FORECAST_HORIZON": 6, "RETRAIN_CHUNK_SIZE": 6}
    seed_demand(shop, 6, weeks=30)
    last = last_complete_day(shop, "W-SUN")
    for weeks in (12, 10, 8, 4, 4):
        drive(retraining.start_retrain(shop, as_of=last - timedelta(days=7 * weeks - 1)))
    drive(retraining.start_retrain(shop))
    shop.fill_rate_scope = FillRateScope.STORE
    shop.save()

    # when suggestions are computed
    with mock.patch.object(
        policy_inputs, "calibrate_fill_target", wraps=policy_inputs.calibrate_fill_target
    ) as calibrate:
        replenishment.recompute_suggestions(shop)

    # then the replay starts with the latest run at least 8 weeks old and reads one run per history date
    past = calibrate.call_args.args[0]
    assert [(pd.Timestamp(last) - cutoff).days for cutoff in past] == [56, 28, 0]
    assert calibrate.call_args.kwargs["runs"] == 3
    assert calibrate.call_args.kwargs["as_of"] == pd.Timestamp(last)
