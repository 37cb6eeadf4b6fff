"""Replenishment: policy overrides per ABC class, restock suggestions and stock adjustments awaiting approval."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inventory_ai.choices import AbcClass, AdjustmentReason, AdjustmentStatus, SuggestionStatus


class ClassPolicy(models.Model):
    """A store's replenishment settings for one ABC class, between the store's defaults and a variant's own.

    Empty fields fall back to the store's defaults; a variant's own settings win over its class's.
    """

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="class_policies"
    )
    abc_class = models.CharField(verbose_name=_("abc class"), max_length=1, choices=AbcClass.choices)
    service_level = models.FloatField(
        verbose_name=_("service level"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.9999)],
    )
    review_period_days = models.PositiveIntegerField(verbose_name=_("review period days"), null=True, blank=True)

    class Meta:
        verbose_name = _("class policy")
        verbose_name_plural = _("class policies")
        constraints = [models.UniqueConstraint(fields=["store", "abc_class"], name="class_policy_unique")]

    def __str__(self) -> str:
        return gettext("%(store)s class %(abc_class)s") % {"store": self.store, "abc_class": self.abc_class}


class AutoApprovalRule(models.Model):
    """Suggestions a store lets the product approve on its own (off until a planner turns a rule on).

    A pending suggestion is approved by the first active rule of its store that it meets: its class among the rule's
    classes, its supplier the rule's (if it names one), its value at cost at most the rule's limit, its quantity
    within the rule's band around the variant's last approved order (if it sets one). Never for a variant whose stock
    push is in conflict, never past the rule's daily cap on the value it approves.
    """

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="auto_approval_rules"
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)
    active = models.BooleanField(
        verbose_name=_("active"), default=False, help_text=_("Off by default: nothing is approved until it is on")
    )
    abc_classes = models.CharField(
        verbose_name=_("abc classes"),
        max_length=3,
        default="BC",
        help_text=_("The classes it approves (letters of A, B, C; B and C by default)"),
    )
    supplier = models.ForeignKey(
        "inventory_ai.Supplier", verbose_name=_("supplier"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="auto_approval_rules", help_text=_("Only this supplier's items (empty: any supplier)"),
    )  # fmt: skip
    max_order_value = models.DecimalField(
        verbose_name=_("max order value"),
        max_digits=14,
        decimal_places=2,
        help_text=_("A suggestion worth more at cost is left to a planner"),
    )
    quantity_band_percent = models.PositiveIntegerField(
        verbose_name=_("quantity band percent"), null=True, blank=True, validators=[MaxValueValidator(1000)],
        help_text=_("Only within this many percent of the variant's last approved quantity (empty: any quantity)"),
    )  # fmt: skip
    daily_value_cap = models.DecimalField(
        verbose_name=_("daily value cap"),
        max_digits=14,
        decimal_places=2,
        help_text=_("The most it approves in value per day (the store's local day)"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("auto approval rule")
        verbose_name_plural = _("auto approval rules")
        ordering = ["store", "pk"]

    def __str__(self) -> str:
        state = gettext("on") if self.active else gettext("off")
        return f"{self.name} ({state})"

    def clean(self) -> None:
        classes = self.abc_classes.upper()
        if not classes or not set(classes) <= set("ABC"):
            raise ValidationError({"abc_classes": _("Name the classes it approves with the letters A, B and C.")})
        self.abc_classes = "".join(sorted(set(classes)))


class ReorderSuggestion(models.Model):
    """A proposed restock of one variant, computed from a forecast run, awaiting a planner's decision.

    A newer suggestion for the same variant supersedes a pending one; decided suggestions are kept as history.
    `reason` explains the numbers to a store admin.
    """

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="suggestions"
    )
    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.CASCADE, related_name="suggestions"
    )
    location = models.ForeignKey(
        "inventory_ai.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="suggestions"
    )
    forecast_run = models.ForeignKey(
        "inventory_ai.ForecastRun",
        verbose_name=_("forecast run"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="suggestions",
    )
    available = models.IntegerField(
        verbose_name=_("available"), help_text=_("Stock available at the store's locations when computed")
    )
    on_order = models.IntegerField(
        verbose_name=_("on order"), default=0, help_text=_("Units on open purchase orders not yet received")
    )
    reorder_point = models.IntegerField(verbose_name=_("reorder point"))
    order_up_to = models.IntegerField(verbose_name=_("order up to"))
    suggested_qty = models.PositiveIntegerField(verbose_name=_("suggested qty"))
    approved_qty = models.PositiveIntegerField(
        verbose_name=_("approved qty"), null=True, blank=True, help_text=_("The quantity approved, if edited")
    )
    lead_time_days = models.PositiveIntegerField(verbose_name=_("lead time days"))
    review_period_days = models.PositiveIntegerField(verbose_name=_("review period days"))
    service_level = models.FloatField(verbose_name=_("service level"))
    service_measure = models.CharField(verbose_name=_("service measure"), max_length=16)
    abc_class = models.CharField(verbose_name=_("abc class"), max_length=1, choices=AbcClass.choices, blank=True)
    xyz_class = models.CharField(verbose_name=_("xyz class"), max_length=1, blank=True)
    weekly_demand = models.FloatField(
        verbose_name=_("weekly demand"), help_text=_("Forecast mean demand per week over the protection period")
    )
    expected_fill_rate = models.FloatField(verbose_name=_("expected fill rate"), null=True, blank=True)
    days_of_cover = models.FloatField(verbose_name=_("days of cover"), null=True, blank=True)
    stockout_date = models.DateField(
        verbose_name=_("stockout date"),
        null=True,
        blank=True,
        help_text=_("When stock on hand runs out at forecast rate"),
    )
    order_by = models.DateField(
        verbose_name=_("order by"),
        null=True,
        blank=True,
        help_text=_("The last day an order placed arrives before the stock-out (lead time)"),
    )
    unit_cost = models.DecimalField(verbose_name=_("unit cost"), max_digits=12, decimal_places=4, null=True, blank=True)
    reason = models.TextField(verbose_name=_("reason"))
    reason_data = models.JSONField(
        verbose_name=_("reason data"),
        default=dict,
        blank=True,
        help_text=_("The figures `reason` is written from, to write it in a reader's language"),
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(verbose_name=_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_by_rule = models.ForeignKey(
        AutoApprovalRule, verbose_name=_("approved by rule"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="approvals", help_text=_("The rule that approved it on its own, if one did"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("reorder suggestion")
        verbose_name_plural = _("reorder suggestions")
        ordering = ["stockout_date", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["variant"],
                condition=models.Q(status=SuggestionStatus.PENDING),
                name="one_pending_suggestion_per_variant",
            )
        ]
        indexes = [
            models.Index(fields=["store", "status"], name="suggestion_store_status"),
            # the admin list's order (most urgent first; an ascending index keeps nulls last, as the list does): its
            # first page is read from here, not sorted out of all
            models.Index(
                "order_by", "stockout_date", F("created_at").desc(), F("id").desc(), name="suggestion_urgency"
            ),
        ]
        permissions = [("approve_reordersuggestion", _("Can approve or reject restock suggestions"))]

    def __str__(self) -> str:
        return gettext("Order %(quantity)s x %(variant)s (%(status)s)") % {
            "quantity": self.suggested_qty,
            "variant": self.variant,
            "status": self.status,
        }

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

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="adjustments"
    )
    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.CASCADE, related_name="adjustments"
    )
    location = models.ForeignKey(
        "inventory_ai.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="adjustments"
    )
    suggestion = models.ForeignKey(
        ReorderSuggestion,
        verbose_name=_("suggestion"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="adjustments",
    )
    expected_available = models.IntegerField(
        verbose_name=_("expected available"), help_text=_("The quantity read from the store")
    )
    new_available = models.IntegerField(verbose_name=_("new available"), help_text=_("The proposed quantity"))
    reason = models.CharField(
        verbose_name=_("reason"), max_length=20, choices=AdjustmentReason.choices, default=AdjustmentReason.MANUAL
    )
    note = models.TextField(verbose_name=_("note"), blank=True)
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=AdjustmentStatus.choices, default=AdjustmentStatus.PENDING
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(verbose_name=_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pushed_at = models.DateTimeField(verbose_name=_("pushed at"), null=True, blank=True)
    error = models.TextField(verbose_name=_("error"), blank=True)
    push_key = models.CharField(
        verbose_name=_("push key"),
        max_length=64,
        blank=True,
        help_text=_("Idempotency key of the current push series: every retry reuses it"),
    )
    shipment_id = models.CharField(
        verbose_name=_("shipment id"),
        max_length=64,
        blank=True,
        help_text=_("Received on this shipment of an inbound transfer (not as an addition)"),
    )
    shipment_line_id = models.CharField(verbose_name=_("shipment line id"), max_length=64, blank=True)
    push_attempts = models.PositiveIntegerField(verbose_name=_("push attempts"), default=0)
    push_failures = models.PositiveIntegerField(
        verbose_name=_("push failures"),
        default=0,
        help_text=_("Failed attempts (timeouts, 5xx) since approval or the last retry from the admin"),
    )
    next_push_at = models.DateTimeField(
        verbose_name=_("next push at"), null=True, blank=True, help_text=_("When a throttled or failed push retries")
    )
    store_quantity_before = models.IntegerField(
        verbose_name=_("store quantity before"), null=True, blank=True, help_text=_("What the store held when written")
    )
    store_quantity_after = models.IntegerField(
        verbose_name=_("store quantity after"),
        null=True,
        blank=True,
        help_text=_("What the store holds after the push"),
    )
    follow_up = models.OneToOneField(
        "self",
        verbose_name=_("follow up"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conflict_of",
        help_text=_("The adjustment re-proposed from the store's fresh quantity after a conflict"),
    )

    class Meta:
        verbose_name = _("stock adjustment")
        verbose_name_plural = _("stock adjustments")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["store", "status"], name="adjustment_store_status")]
        permissions = [("approve_stockadjustment", _("Can approve or reject stock adjustments"))]

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
        APPLIED = "applied", _("Applied")
        ALREADY_APPLIED = "already_applied", _("Already applied (a retry)")
        STALE = "stale", _("Stale quantity (conflict)")
        THROTTLED = "throttled", _("Throttled by the store, retried")
        RETRY = "retry", _("Transient error, retried")
        REJECTED = "rejected", _("Rejected by the store")
        FAILED = "failed", _("Failed")

    adjustment = models.ForeignKey(
        StockAdjustment, verbose_name=_("adjustment"), on_delete=models.CASCADE, related_name="push_log"
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    idempotency_key = models.CharField(verbose_name=_("idempotency key"), max_length=64)
    started_at = models.DateTimeField(verbose_name=_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)
    outcome = models.CharField(verbose_name=_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    store_quantity_before = models.IntegerField(verbose_name=_("store quantity before"), null=True, blank=True)
    store_quantity_after = models.IntegerField(verbose_name=_("store quantity after"), null=True, blank=True)
    request = models.JSONField(verbose_name=_("request"), default=dict, blank=True)
    response = models.JSONField(verbose_name=_("response"), default=dict, blank=True)
    error = models.TextField(verbose_name=_("error"), blank=True)

    class Meta:
        verbose_name = _("push attempt")
        verbose_name_plural = _("push attempts")
        ordering = ["adjustment", "number"]
        constraints = [models.UniqueConstraint(fields=["adjustment", "number"], name="push_attempt_unique")]

    def __str__(self) -> str:
        return gettext("push %(number)s of adjustment %(adjustment)s: %(outcome)s") % {
            "number": self.number,
            "adjustment": self.adjustment_id,
            "outcome": self.outcome or gettext("running"),
        }
