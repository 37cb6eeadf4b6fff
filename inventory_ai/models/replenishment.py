"""Replenishment: policy overrides per ABC class, restock suggestions and stock adjustments awaiting approval."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from inventory_ai.choices import AbcClass, AdjustmentReason, AdjustmentStatus, SuggestionStatus


class ClassPolicy(models.Model):
    """A store's replenishment settings for one ABC class, between the store's defaults and a variant's own.

    Empty fields fall back to the store's defaults; a variant's own settings win over its class's.
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="class_policies")
    abc_class = models.CharField(max_length=1, choices=AbcClass.choices)
    service_level = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.5), MaxValueValidator(0.9999)]
    )
    review_period_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "abc_class"], name="class_policy_unique")]
        verbose_name_plural = "class policies"

    def __str__(self) -> str:
        return f"{self.store} class {self.abc_class}"


class AutoApprovalRule(models.Model):
    """Suggestions a store lets the product approve on its own (off until a planner turns a rule on).

    A pending suggestion is approved by the first active rule of its store that it meets: its class among the rule's
    classes, its supplier the rule's (if it names one), its value at cost at most the rule's limit, its quantity
    within the rule's band around the variant's last approved order (if it sets one). Never for a variant whose stock
    push is in conflict, never past the rule's daily cap on the value it approves.
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="auto_approval_rules")
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=False, help_text="Off by default: nothing is approved until it is on")
    abc_classes = models.CharField(
        max_length=3, default="BC", help_text="The classes it approves (letters of A, B, C; B and C by default)"
    )
    supplier = models.ForeignKey(
        "inventory_ai.Supplier", null=True, blank=True, on_delete=models.CASCADE, related_name="auto_approval_rules",
        help_text="Only this supplier's items (empty: any supplier)",
    )  # fmt: skip
    max_order_value = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="A suggestion worth more at cost is left to a planner"
    )
    quantity_band_percent = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(1000)],
        help_text="Only within this many percent of the variant's last approved quantity (empty: any quantity)",
    )  # fmt: skip
    daily_value_cap = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="The most it approves in value per day (the store's local day)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({'on' if self.active else 'off'})"

    def clean(self) -> None:
        classes = self.abc_classes.upper()
        if not classes or not set(classes) <= set("ABC"):
            raise ValidationError({"abc_classes": "Name the classes it approves with the letters A, B and C."})
        self.abc_classes = "".join(sorted(set(classes)))


class ReorderSuggestion(models.Model):
    """A proposed restock of one variant, computed from a forecast run, awaiting a planner's decision.

    A newer suggestion for the same variant supersedes a pending one; decided suggestions are kept as history.
    `reason` explains the numbers to a store admin.
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="suggestions")
    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.CASCADE, related_name="suggestions")
    location = models.ForeignKey("inventory_ai.Location", on_delete=models.CASCADE, related_name="suggestions")
    forecast_run = models.ForeignKey(
        "inventory_ai.ForecastRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="suggestions"
    )
    available = models.IntegerField(help_text="Stock available at the store's locations when computed")
    on_order = models.IntegerField(default=0, help_text="Units on open purchase orders not yet received")
    reorder_point = models.IntegerField()
    order_up_to = models.IntegerField()
    suggested_qty = models.PositiveIntegerField()
    approved_qty = models.PositiveIntegerField(null=True, blank=True, help_text="The quantity approved, if edited")
    lead_time_days = models.PositiveIntegerField()
    review_period_days = models.PositiveIntegerField()
    service_level = models.FloatField()
    service_measure = models.CharField(max_length=16)
    abc_class = models.CharField(max_length=1, choices=AbcClass.choices, blank=True)
    xyz_class = models.CharField(max_length=1, blank=True)
    weekly_demand = models.FloatField(help_text="Forecast mean demand per week over the protection period")
    expected_fill_rate = models.FloatField(null=True, blank=True)
    days_of_cover = models.FloatField(null=True, blank=True)
    stockout_date = models.DateField(null=True, blank=True, help_text="When stock on hand runs out at forecast rate")
    order_by = models.DateField(
        null=True, blank=True, help_text="The last day an order placed arrives before the stock-out (lead time)"
    )
    unit_cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    reason = models.TextField()
    reason_data = models.JSONField(
        default=dict, blank=True, help_text="The figures `reason` is written from, to write it in a reader's language"
    )
    status = models.CharField(max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by_rule = models.ForeignKey(
        AutoApprovalRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="approvals",
        help_text="The rule that approved it on its own, if one did",
    )  # fmt: skip

    class Meta:
        ordering = ["stockout_date", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["variant"],
                condition=models.Q(status=SuggestionStatus.PENDING),
                name="one_pending_suggestion_per_variant",
            )
        ]
        indexes = [models.Index(fields=["store", "status"], name="suggestion_store_status")]
        permissions = [("approve_reordersuggestion", "Can approve or reject restock suggestions")]

    def __str__(self) -> str:
        return f"Order {self.suggested_qty} x {self.variant} ({self.status})"

    @property
    def quantity(self) -> int:
        return self.approved_qty if self.approved_qty is not None else self.suggested_qty

    @property
    def value(self):
        return self.unit_cost * self.quantity if self.unit_cost is not None else None


class StockAdjustment(models.Model):
    """A change of a variant's stock level at a location, to be approved and then pushed to the store.

    `expected_available` is the quantity read from the store when the adjustment was proposed: the push only
    applies if the store still holds it (otherwise the adjustment is a conflict, never a lost or doubled update).
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="adjustments")
    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.CASCADE, related_name="adjustments")
    location = models.ForeignKey("inventory_ai.Location", on_delete=models.CASCADE, related_name="adjustments")
    suggestion = models.ForeignKey(
        ReorderSuggestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="adjustments"
    )
    expected_available = models.IntegerField(help_text="The quantity read from the store")
    new_available = models.IntegerField(help_text="The proposed quantity")
    reason = models.CharField(max_length=20, choices=AdjustmentReason.choices, default=AdjustmentReason.MANUAL)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=AdjustmentStatus.choices, default=AdjustmentStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pushed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    push_key = models.CharField(
        max_length=64, blank=True, help_text="Idempotency key of the current push series: every retry reuses it"
    )
    shipment_id = models.CharField(
        max_length=64, blank=True, help_text="Received on this shipment of an inbound transfer (not as an addition)"
    )
    shipment_line_id = models.CharField(max_length=64, blank=True)
    push_attempts = models.PositiveIntegerField(default=0)
    push_failures = models.PositiveIntegerField(
        default=0, help_text="Failed attempts (timeouts, 5xx) since approval or the last retry from the admin"
    )
    next_push_at = models.DateTimeField(null=True, blank=True, help_text="When a throttled or failed push retries")
    store_quantity_before = models.IntegerField(null=True, blank=True, help_text="What the store held when written")
    store_quantity_after = models.IntegerField(null=True, blank=True, help_text="What the store holds after the push")
    follow_up = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conflict_of",
        help_text="The adjustment re-proposed from the store's fresh quantity after a conflict",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["store", "status"], name="adjustment_store_status")]
        permissions = [("approve_stockadjustment", "Can approve or reject stock adjustments")]

    def __str__(self) -> str:
        return f"{self.variant} @ {self.location}: {self.expected_available} -> {self.new_available} ({self.status})"

    @property
    def delta(self) -> int:
        return self.new_available - self.expected_available


class PushAttempt(models.Model):
    """One attempt to write an approved adjustment to the store: the request, the answer and what it meant.

    Attempts of one push share the adjustment's `push_key`, so the store applies the change at most once however
    often the request is retried.
    """

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        ALREADY_APPLIED = "already_applied", "Already applied (a retry)"
        STALE = "stale", "Stale quantity (conflict)"
        THROTTLED = "throttled", "Throttled by the store, retried"
        RETRY = "retry", "Transient error, retried"
        REJECTED = "rejected", "Rejected by the store"
        FAILED = "failed", "Failed"

    adjustment = models.ForeignKey(StockAdjustment, on_delete=models.CASCADE, related_name="push_log")
    number = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=64)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    store_quantity_before = models.IntegerField(null=True, blank=True)
    store_quantity_after = models.IntegerField(null=True, blank=True)
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["adjustment", "number"]
        constraints = [models.UniqueConstraint(fields=["adjustment", "number"], name="push_attempt_unique")]

    def __str__(self) -> str:
        return f"push {self.number} of adjustment {self.adjustment_id}: {self.outcome or 'running'}"
