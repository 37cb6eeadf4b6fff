"""Products and variants: resolving the variants that order lines and product events name."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from integrations.records import VariantRef
from integrations.shopify.order_export import SKU_KEY_PREFIX
from inventory_ai.models import Location, Product, Store, Variant
from inventory_ai.services.stores import primary_location


class CatalogCache:
    """Maps platform ids to our primary keys for one store, creating missing products and variants on the way.

    Long imports keep one instance so that each variant is looked up once. Rows are created in their own committed
    transaction: they are harmless if a later order write fails, and the cache never holds a rolled-back key.
    """

    def __init__(self, store: Store, *, placeholders: bool = False) -> None:
        self.store = store
        self.placeholders = placeholders
        self._variant_pks: dict[str, int] = {}
        self._location_pks: dict[str, int] = {}
        self._primary_location_pk: int | None = None

    def primary_location_pk(self) -> int:
        if self._primary_location_pk is None:
            self._primary_location_pk = primary_location(self.store).pk
        return self._primary_location_pk

    def location_pk(self, platform_location_id: str) -> int:
        """Our key of the store's location with that platform id; the primary location when it is unknown/empty."""
        if not platform_location_id:
            return self.primary_location_pk()
        if platform_location_id not in self._location_pks:
            pk = (
                Location.objects.filter(store=self.store, platform_id=platform_location_id)
                .values_list("pk", flat=True)
                .first()
            )
            self._location_pks[platform_location_id] = pk or self.primary_location_pk()
        return self._location_pks[platform_location_id]

    def variant_pks(self, refs: Iterable[VariantRef]) -> dict[str, int]:
        """Our variant keys for the given refs, by the refs' variant ids; creates what does not exist yet."""
        refs = list(refs)
        missing = {ref.variant_id: ref for ref in refs if ref.variant_id not in self._variant_pks}
        if missing:
            self._load_or_create(missing)
        return {ref.variant_id: self._variant_pks[ref.variant_id] for ref in refs}

    def _load_or_create(self, missing: dict[str, VariantRef]) -> None:
        store = self.store
        found = Variant.objects.filter(store=store, platform_id__in=list(missing)).values_list("platform_id", "pk")
        self._variant_pks.update(found)
        missing = {key: ref for key, ref in missing.items() if key not in self._variant_pks}
        # Lines from a file that carries no variant ids (Shopify's order export) match the catalogue by SKU.
        by_sku = {ref.sku: key for key, ref in missing.items() if key.startswith(SKU_KEY_PREFIX) and ref.sku}
        if by_sku:
            for sku, pk in (
                Variant.objects.filter(store=store, sku__in=list(by_sku)).order_by("-pk").values_list("sku", "pk")
            ):
                self._variant_pks[by_sku[sku]] = pk
            missing = {key: ref for key, ref in missing.items() if key not in self._variant_pks}
        if not missing:
            return
        with transaction.atomic():
            products = {ref.product_id: ref for ref in missing.values()}
            Product.objects.bulk_create(
                [Product(store=store, platform_id=pid, title=ref.product_title[:500]) for pid, ref in products.items()],
                ignore_conflicts=True,
                batch_size=1000,
            )
            product_pks = dict(
                Product.objects.filter(store=store, platform_id__in=list(products)).values_list("platform_id", "pk")
            )
            Variant.objects.bulk_create(
                [
                    Variant(
                        store=store,
                        product_id=product_pks[ref.product_id],
                        platform_id=key,
                        sku=ref.sku[:255],
                        title=ref.title[:500],
                        price=ref.price,
                        inventory_item_id=ref.inventory_item_id,
                        is_placeholder=self.placeholders,
                    )
                    for key, ref in missing.items()
                ],
                ignore_conflicts=True,
                batch_size=1000,
            )
        self._variant_pks.update(
            Variant.objects.filter(store=store, platform_id__in=list(missing)).values_list("platform_id", "pk")
        )
