"""Retraining runs and the forecasts they write."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inventory_ai.choices import RunKind, RunPhase, RunStatus, StepStatus

ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class ForecastRun(models.Model):
    """One retraining of a store's forecasts: its progress, outcome and the model registry folder of its artefacts.

    At most one run per store is queued or running at a time (a partial unique constraint, so two schedulers or a
    double click cannot start overlapping runs). The newest succeeded run is the store's current forecast.
    `data_until` is the last day of demand the run read: every task of the run reads the same history.
    """

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="forecast_runs"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=RunKind.choices, default=RunKind.FULL)
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    phase = models.CharField(
        verbose_name=_("phase"), max_length=16, choices=RunPhase.choices, default=RunPhase.PLANNING
    )
    trigger = models.CharField(
        verbose_name=_("trigger"), max_length=32, blank=True, help_text=_("schedule, admin, command, api")
    )
    requested_by = models.CharField(verbose_name=_("requested by"), max_length=150, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(verbose_name=_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)
    progress_at = models.DateTimeField(
        verbose_name=_("progress at"), null=True, blank=True, help_text=_("Last time any part of the run moved on")
    )
    data_until = models.DateField(verbose_name=_("data until"), null=True, blank=True)
    freq = models.CharField(verbose_name=_("freq"), max_length=16, blank=True)
    horizon = models.PositiveIntegerField(verbose_name=_("horizon"), default=0)
    levels = models.JSONField(verbose_name=_("levels"), default=list, blank=True)
    skus_total = models.PositiveIntegerField(verbose_name=_("skus total"), default=0)
    skus_done = models.PositiveIntegerField(verbose_name=_("skus done"), default=0)
    skus_failed = models.PositiveIntegerField(verbose_name=_("skus failed"), default=0)
    global_backtest_status = models.CharField(
        verbose_name=_("global backtest status"),
        max_length=16,
        choices=StepStatus.choices,
        default=StepStatus.PENDING,
        help_text=_("The network's backtest"),
    )
    global_status = models.CharField(
        verbose_name=_("global status"),
        max_length=16,
        choices=StepStatus.choices,
        default=StepStatus.PENDING,
        help_text=_("The network's final fit"),
    )
    global_backtest_attempts = models.PositiveIntegerField(
        verbose_name=_("global backtest attempts"),
        default=0,
        help_text=_("Starts of the network's backtest, redeliveries included"),
    )
    global_attempts = models.PositiveIntegerField(
        verbose_name=_("global attempts"),
        default=0,
        help_text=_("Starts of the network's final fit, redeliveries included"),
    )
    global_seconds = models.FloatField(
        verbose_name=_("global seconds"), null=True, blank=True, help_text=_("Seconds of network training, both parts")
    )
    features_status = models.CharField(
        verbose_name=_("features status"),
        max_length=16,
        choices=StepStatus.choices,
        default=StepStatus.SKIPPED,
        help_text=_("The feature models (trees, regression on the drivers): their backtest and final fits"),
    )
    features_attempts = models.PositiveIntegerField(
        verbose_name=_("features attempts"),
        default=0,
        help_text=_("Starts of the feature models' step, redeliveries included"),
    )
    features_seconds = models.FloatField(
        verbose_name=_("features seconds"), null=True, blank=True, help_text=_("Seconds of the feature models' step")
    )
    choice = models.JSONField(
        verbose_name=_("choice"), default=dict, blank=True, help_text=_("Model chosen per demand class")
    )
    calibration = models.JSONField(
        verbose_name=_("calibration"),
        default=list,
        blank=True,
        help_text=_("Coefficients of the store-wide level calibration (empty: none)"),
    )
    model_counts = models.JSONField(verbose_name=_("model counts"), default=dict, blank=True)
    accuracy = models.JSONField(verbose_name=_("accuracy"), default=dict, blank=True)
    skus_changed = models.PositiveIntegerField(verbose_name=_("skus changed"), default=0)
    artifacts = models.CharField(
        verbose_name=_("artifacts"), max_length=255, blank=True, help_text=_("Folder of this run in the model registry")
    )
    warm_start_run = models.ForeignKey(
        "self", verbose_name=_("warm start run"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error_log = models.TextField(verbose_name=_("error log"), blank=True)

    class Meta:
        verbose_name = _("forecast run")
        verbose_name_plural = _("forecast runs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["store"], condition=models.Q(status__in=ACTIVE_STATUSES), name="one_active_run_per_store"
            )
        ]
        indexes = [models.Index(fields=["store", "status", "finished_at"], name="forecast_run_current")]

    def __str__(self) -> str:
        return gettext("%(kind)s #%(id)s of %(store)s (%(status)s)") % {
            "kind": self.get_kind_display(),
            "id": self.pk,
            "store": self.store,
            "status": self.status,
        }

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

    run = models.ForeignKey(ForecastRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField(verbose_name=_("index"))
    variant_ids = models.JSONField(verbose_name=_("variant ids"), default=list)
    backtest_status = models.CharField(
        verbose_name=_("backtest status"), max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING
    )
    forecast_status = models.CharField(
        verbose_name=_("forecast status"), max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING
    )
    evidence = models.JSONField(verbose_name=_("evidence"), default=dict, blank=True)
    attempts = models.PositiveIntegerField(
        verbose_name=_("attempts"), default=0, help_text=_("Task starts, redeliveries included")
    )
    step_attempts = models.PositiveIntegerField(
        verbose_name=_("step attempts"),
        default=0,
        help_text=_("Starts of the chunk's current step (backtest, then forecast), redeliveries included"),
    )
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("forecast run chunk")
        verbose_name_plural = _("forecast run chunks")
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="forecast_run_chunk_unique")]

    def __str__(self) -> str:
        return gettext("chunk %(index)s of run %(run)s") % {"index": self.index, "run": self.run_id}


class ForecastResult(models.Model):
    """The outcome for one SKU in one run: the model it got and its backtest accuracy, or why it failed."""

    run = models.ForeignKey(ForecastRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="results")
    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.CASCADE, related_name="forecast_results"
    )
    ok = models.BooleanField(verbose_name=_("ok"), default=True)
    model = models.CharField(verbose_name=_("model"), max_length=64, blank=True)
    demand_class = models.CharField(verbose_name=_("demand class"), max_length=16, blank=True)
    backtest = models.JSONField(
        verbose_name=_("backtest"), default=dict, blank=True, help_text=_("Backtest RMSSE per candidate model")
    )
    accuracy = models.JSONField(
        verbose_name=_("accuracy"),
        default=dict,
        blank=True,
        help_text=_("Backtest MSE, RMSE, MASE and R² per candidate model"),
    )
    changed = models.BooleanField(
        verbose_name=_("changed"), default=False, help_text=_("The forecast moved against the previous run")
    )
    explanation = models.JSONField(
        verbose_name=_("explanation"),
        default=dict,
        blank=True,
        help_text=_("What each driver group adds to the forecast per period, in units (feature models only)"),
    )
    error = models.TextField(verbose_name=_("error"), blank=True)

    class Meta:
        verbose_name = _("forecast result")
        verbose_name_plural = _("forecast results")
        constraints = [models.UniqueConstraint(fields=["run", "variant"], name="forecast_result_unique")]

    def __str__(self) -> str:
        return gettext("%(variant)s in run %(run)s: %(model)s") % {
            "variant": self.variant,
            "run": self.run_id,
            "model": self.model or gettext("failed"),
        }


class Forecast(models.Model):
    """Forecast demand of one variant (all locations) in one future period, with its prediction intervals.

    `bounds` maps "lo-80", "hi-80", "lo-95", ... to units.
    """

    run = models.ForeignKey(ForecastRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="forecasts")
    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.CASCADE, related_name="forecasts"
    )
    period_start = models.DateField(verbose_name=_("period start"))
    period_end = models.DateField(verbose_name=_("period end"))
    mean = models.FloatField(verbose_name=_("mean"))
    bounds = models.JSONField(verbose_name=_("bounds"), default=dict)
    model = models.CharField(verbose_name=_("model"), max_length=64)

    class Meta:
        verbose_name = _("forecast")
        verbose_name_plural = _("forecasts")
        ordering = ["variant", "period_start"]
        constraints = [models.UniqueConstraint(fields=["run", "variant", "period_end"], name="forecast_unique")]
        indexes = [models.Index(fields=["variant", "run"], name="forecast_variant_run")]

    def __str__(self) -> str:
        return f"{self.variant} {self.period_start}..{self.period_end}: {self.mean:.1f}"
