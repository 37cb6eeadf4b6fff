"""Retraining runs and the forecasts they write."""

from __future__ import annotations

from django.db import models

from inventory_ai.choices import RunKind, RunPhase, RunStatus, StepStatus

ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class ForecastRun(models.Model):
    """One retraining of a store's forecasts: its progress, outcome and the model registry folder of its artefacts.

    At most one run per store is queued or running at a time (a partial unique constraint, so two schedulers or a
    double click cannot start overlapping runs). The newest succeeded run is the store's current forecast.
    `data_until` is the last day of demand the run read: every task of the run reads the same history.
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="forecast_runs")
    kind = models.CharField(max_length=16, choices=RunKind.choices, default=RunKind.FULL)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    phase = models.CharField(max_length=16, choices=RunPhase.choices, default=RunPhase.PLANNING)
    trigger = models.CharField(max_length=32, blank=True, help_text="schedule, admin, command, api")
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="Last time any part of the run moved on")
    data_until = models.DateField(null=True, blank=True)
    freq = models.CharField(max_length=16, blank=True)
    horizon = models.PositiveIntegerField(default=0)
    levels = models.JSONField(default=list, blank=True)
    skus_total = models.PositiveIntegerField(default=0)
    skus_done = models.PositiveIntegerField(default=0)
    skus_failed = models.PositiveIntegerField(default=0)
    global_backtest_status = models.CharField(
        max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING, help_text="The network's backtest"
    )
    global_status = models.CharField(
        max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING, help_text="The network's final fit"
    )
    global_backtest_attempts = models.PositiveIntegerField(
        default=0, help_text="Starts of the network's backtest, redeliveries included"
    )
    global_attempts = models.PositiveIntegerField(
        default=0, help_text="Starts of the network's final fit, redeliveries included"
    )
    global_seconds = models.FloatField(null=True, blank=True, help_text="Seconds of network training, both parts")
    features_status = models.CharField(
        max_length=16,
        choices=StepStatus.choices,
        default=StepStatus.SKIPPED,
        help_text="The feature models (trees, regression on the drivers): their backtest and final fits",
    )
    features_attempts = models.PositiveIntegerField(
        default=0, help_text="Starts of the feature models' step, redeliveries included"
    )
    features_seconds = models.FloatField(null=True, blank=True, help_text="Seconds of the feature models' step")
    choice = models.JSONField(default=dict, blank=True, help_text="Model chosen per demand class")
    calibration = models.JSONField(
        default=list, blank=True, help_text="Coefficients of the store-wide level calibration (empty: none)"
    )
    model_counts = models.JSONField(default=dict, blank=True)
    accuracy = models.JSONField(default=dict, blank=True)
    skus_changed = models.PositiveIntegerField(default=0)
    artifacts = models.CharField(max_length=255, blank=True, help_text="Folder of this run in the model registry")
    warm_start_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error_log = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["store"], condition=models.Q(status__in=ACTIVE_STATUSES), name="one_active_run_per_store"
            )
        ]
        indexes = [models.Index(fields=["store", "status", "finished_at"], name="forecast_run_current")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of {self.store} ({self.status})"

    @property
    def progress(self) -> float:
        """Share of SKUs finished (forecast or failed), 0..1."""
        return (self.skus_done + self.skus_failed) / self.skus_total if self.skus_total else 0.0

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ForecastRunChunk(models.Model):
    """A slice of a run's SKUs, the unit of work of one Celery task per phase.

    A task writes its results and marks its phase done in one transaction, so a redelivered task (its worker was
    killed) either redoes work that was never committed or finds it done: every SKU is forecast exactly once.
    `evidence` holds the backtest results that model choice needs, by variant id.
    """

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    variant_ids = models.JSONField(default=list)
    backtest_status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    forecast_status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    evidence = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Task starts, redeliveries included")
    step_attempts = models.PositiveIntegerField(
        default=0, help_text="Starts of the chunk's current step (backtest, then forecast), redeliveries included"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="forecast_run_chunk_unique")]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"


class ForecastResult(models.Model):
    """The outcome for one SKU in one run: the model it got and its backtest accuracy, or why it failed."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="results")
    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.CASCADE, related_name="forecast_results")
    ok = models.BooleanField(default=True)
    model = models.CharField(max_length=64, blank=True)
    demand_class = models.CharField(max_length=16, blank=True)
    backtest = models.JSONField(default=dict, blank=True, help_text="Backtest RMSSE per candidate model")
    accuracy = models.JSONField(
        default=dict, blank=True, help_text="Backtest MSE, RMSE, MASE and R² per candidate model"
    )
    changed = models.BooleanField(default=False, help_text="The forecast moved against the previous run")
    explanation = models.JSONField(
        default=dict,
        blank=True,
        help_text="What each driver group adds to the forecast per period, in units (feature models only)",
    )
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "variant"], name="forecast_result_unique")]

    def __str__(self) -> str:
        return f"{self.variant} in run {self.run_id}: {self.model or 'failed'}"


class Forecast(models.Model):
    """Forecast demand of one variant (all locations) in one future period, with its prediction intervals.

    `bounds` maps "lo-80", "hi-80", "lo-95", ... to units.
    """

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="forecasts")
    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.CASCADE, related_name="forecasts")
    period_start = models.DateField()
    period_end = models.DateField()
    mean = models.FloatField()
    bounds = models.JSONField(default=dict)
    model = models.CharField(max_length=64)

    class Meta:
        ordering = ["variant", "period_start"]
        constraints = [models.UniqueConstraint(fields=["run", "variant", "period_end"], name="forecast_unique")]
        indexes = [models.Index(fields=["variant", "run"], name="forecast_variant_run")]

    def __str__(self) -> str:
        return f"{self.variant} {self.period_start}..{self.period_end}: {self.mean:.1f}"
