"""Test helpers for purchase orders on a simulated Shopify store: one variant stocked at one location, known to both
sides, and an order of it approved and sent."""

from __future__ import annotations

from django.utils import timezone

from inventory_ai.choices import PurchaseOrderStatus
from inventory_ai.models import InventoryLevel, Location, Product, PurchaseOrder, ReorderSuggestion, Variant
from inventory_ai.services import purchasing, replenishment
from inventory_ai.services.stores import upsert_store

ITEM, LOCATION = "808950810", "655441491"


def stocked_store(simulator, domain: str, token: str, available: int = 5):
    """A Shopify store on the simulator holding `available` of one variant at one location; (store, variant,
    location)."""
    store, _ = upsert_store("shopify", domain, webhook_secret="hush", credentials={"access_token": token},
                            api_base_url=simulator.url)  # fmt: skip
    product = Product.objects.create(store=store, platform_id="632910392", title="Notebook", vendor="Mill")
    variant = Variant.objects.create(store=store, product=product, platform_id="1", sku="NB-1", inventory_item_id=ITEM)
    location = Location.objects.create(store=store, platform_id=LOCATION, name="Warehouse", is_primary=True)
    InventoryLevel.objects.create(
        variant=variant, location=location, available=available, platform_updated_at=timezone.now()
    )
    simulator.inventory.set_level(ITEM, LOCATION, available)
    return store, variant, location


def sent_order(store, variant, location, planner, quantity: int = 30) -> PurchaseOrder:
    """A suggestion of `quantity` approved onto its supplier's draft, and the draft sent (without e-mail)."""
    suggestion = ReorderSuggestion.objects.create(
        store=store, variant=variant, location=location, available=5, reorder_point=10, order_up_to=35,
        suggested_qty=quantity, lead_time_days=7, review_period_days=7, service_level=0.95,
        service_measure="fill_rate", weekly_demand=10, reason="test",
    )  # fmt: skip
    replenishment.decide_suggestion(suggestion, approve=True, user=planner)
    order = PurchaseOrder.objects.get(store=store, status=PurchaseOrderStatus.DRAFT)
    return purchasing.send(order, planner, email=False)
