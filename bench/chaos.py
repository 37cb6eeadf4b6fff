"""Chaos suite: faults and abuse against the whole running product, proving that nothing is lost, doubled or let in.

    python bench/chaos.py                       # every scenario, about 10 minutes
    python bench/chaos.py --scenarios redis,storm --orders 300

Runs on this machine, with nothing shared: a private PostgreSQL cluster and a private Redis server (started here on
free ports, so stopping and restarting them disturbs nobody), gunicorn serving the product, and Celery workers. The
store simulator replays real Online Retail orders as signed Shopify webhooks and retries like Shopify (any non-2xx
answer or timeout is sent again, with backoff). Scenarios:

1. redis     Redis is stopped for `--redis-outage` seconds in the middle of a replay. Webhooks keep being accepted
             (the event is stored before anything is enqueued); Redis comes back empty, and the sweeper enqueues
             what was never processed. Final orders, lines and units equal the source.
2. postgres  PostgreSQL is stopped and started again in the middle of a replay. Requests during the outage are
             answered 503 (never 200), the simulator's retries succeed later, and the totals equal the source.
3. kill      Worker processes are SIGKILLed: pool processes and a whole worker during webhook processing; a
             pool process during a retrain; pool processes and a whole worker during a batch of pushes. Every event
             is processed once, the run completes with every SKU once, every approved change is applied exactly
             once in the simulated store.
4. storm     The same orders go to two stores: once and in order to one, and to the other three times each, shuffled,
             older snapshots often after newer ones and refunds before their orders. The two stores end equal.
5. abuse     At least `--abuse-requests` generated bad requests against the webhook endpoints and the API: documented
             4xx answers, no 5xx, nothing kept from an unsigned request, the worker still working afterwards.
6. access    Anonymous and Viewer users against approve, push and secrets (API and admin), a scan of the raw
             database for credentials in clear, `check --deploy` with production settings, a dependency audit.

Prints one table: per scenario the load held, the faults injected, the bad inputs tried, and the counts that prove
nothing was lost or doubled. Exits non-zero when any check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chaos_stack import (  # noqa: E402
    ACCESS_TOKEN,
    CHAOS_DB,
    CREDENTIALS_KEY,
    ORDERS,
    RETRAIN_SHOP,
    SHOP,
    STORM_SHOP,
    WEBHOOK_SECRET,
    WOO_CONSUMER_SECRET,
    WOO_SITE,
    Context,
    PrivatePostgres,
    PrivateRedis,
    Replay,
    Web,
    answers_line,
    build_template,
    compare,
    fresh_database,
    load_line,
    log,
    reconnect,
    row,
    settle,
    setup_django,
    source_checks,
    store_totals,
)
from retrain import Worker  # noqa: E402

SCENARIOS = ("redis", "postgres", "kill", "storm", "abuse", "access")


# --- Scenarios ------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def webhook_stack(ctx: Context, name: str):
    """A fresh database, gunicorn and a worker on the webhook queues, stopped on the way out."""
    fresh_database(ctx)
    web = Web(ctx)
    worker = Worker(ctx.env, ctx.scratch, name, queues="default,webhooks", concurrency=2)
    try:
        yield web, worker
    finally:
        web.stop()
        worker.stop()


def replay_through_outage(ctx: Context, name: str, server, outage: float) -> tuple[dict, dict, dict, bool]:
    """Replay orders, stop `server` for `outage` seconds in the middle, then settle: the replay's report, the
    sweeper's count, the store's totals and whether the worker lived through it."""
    with webhook_stack(ctx, f"{name}-webhooks") as (web, worker):
        replay = Replay(ctx, web, SHOP, limit=ctx.args.orders_per_replay, rate=ctx.args.rate)
        time.sleep(ctx.args.fault_after)
        log(f"{name}: stopping it for {outage:g} s")
        server.stop()
        time.sleep(outage)
        server.start()
        log(f"{name}: it is back")
        report = replay.wait()
        reconnect()
        swept = settle(stale_after=ctx.args.stale_after)
        return report, swept, store_totals(SHOP), worker.process.poll() is None


def scenario_redis(ctx: Context) -> dict:
    outage = ctx.args.redis_outage
    report, swept, totals, worker_alive = replay_through_outage(ctx, "redis", ctx.redis, outage)
    checks = source_checks(report, totals)
    compare(checks, "answered 5xx while Redis was down", sum(
        count for status, count in report["answers"].items() if status.startswith("5")), 0)  # fmt: skip
    compare(checks, "worker alive", worker_alive, True)
    return row(
        "1. Redis stopped",
        load_line(report),
        f"Redis killed for {outage:g} s, restarted empty",
        "-",
        checks,
        f"answers: {answers_line(report)}; enqueued by the sweeper (arrived while Redis was down, or queued in it "
        f"when it died): {swept['requeued_by_sweeper']:,}",
    )


def scenario_postgres(ctx: Context) -> dict:
    outage = ctx.args.postgres_outage
    report, swept, totals, worker_alive = replay_through_outage(ctx, "postgres", ctx.postgres, outage)
    checks = source_checks(report, totals)
    others = {s: n for s, n in report["answers"].items() if s not in ("200", "503", "connection_error", "timeout")}
    compare(checks, "answers other than 200 and 503", others, {})
    compare(checks, "503 answers during the outage (> 0)", report["answers"].get("503", 0) > 0, True)
    compare(checks, "worker alive", worker_alive, True)
    return row(
        "2. PostgreSQL restarted",
        load_line(report),
        f"PostgreSQL stopped for {outage:g} s, started again",
        "-",
        checks,
        f"answers: {answers_line(report)}; enqueued again by the sweeper: {swept['requeued_by_sweeper']:,}",
    )


def kill_a_pool_process(worker: Worker) -> bool:
    """SIGKILL one of the worker's pool processes, chosen at random; whether there was one to kill."""
    with contextlib.suppress(ProcessLookupError):
        children = worker.pids()[1:]
        if children:
            os.kill(random.choice(children), signal.SIGKILL)
            return True
    return False


def wait_for_pool(worker: Worker, timeout: float = 60.0) -> None:
    """Wait until the worker has forked its pool processes: on a loaded machine a worker takes seconds to start, and
    a kill aimed at its pool before then would find nothing to kill."""
    deadline = time.monotonic() + timeout
    while len(worker.pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)


def scenario_kill_webhooks(ctx: Context) -> dict:
    args = ctx.args
    fresh_database(ctx)
    web = Web(ctx)
    workers = [Worker(ctx.env, ctx.scratch, "kill-webhooks-0", queues="default,webhooks", concurrency=2)]
    kills = Counter()
    try:
        wait_for_pool(workers[0])
        replay = Replay(ctx, web, SHOP, limit=args.orders_per_replay, rate=args.rate)
        time.sleep(3)
        whole_killed = False
        while replay.running():
            worker = workers[-1]
            # the whole worker goes only after a pool process has: the scenario kills both kinds on any machine
            if not whole_killed and replay.elapsed() > args.fault_after and kills["pool process"]:
                worker.kill()
                kills["whole worker (main process and pool)"] += 1
                whole_killed = True
                time.sleep(2)
                workers.append(Worker(ctx.env, ctx.scratch, "kill-webhooks-1", queues="default,webhooks",
                                      concurrency=2))  # fmt: skip
                wait_for_pool(workers[-1])
            elif kill_a_pool_process(worker):
                kills["pool process"] += 1
            time.sleep(args.kill_every)
        report = replay.wait()
        # The whole worker's unacknowledged messages come back from Redis after the visibility timeout.
        time.sleep(int(ctx.env["CELERY_VISIBILITY_TIMEOUT"]) + 5)
        swept = settle(stale_after=args.stale_after)
        totals = store_totals(SHOP)
    finally:
        web.stop()
        for worker in workers:
            worker.stop()
    checks = source_checks(report, totals)
    return row(
        "3a. SIGKILL during webhook processing",
        load_line(report),
        ", ".join(f"{count} x {what}" for what, count in kills.items()),
        "-",
        checks,
        f"enqueued again by the sweeper: {swept['requeued_by_sweeper']:,}",
    )


def scenario_kill_retrain(ctx: Context) -> dict:
    from datetime import date

    from inventory_ai.models import Forecast, ForecastResult, Variant
    from inventory_ai.services import retraining
    from inventory_ai.services.stores import find_store

    fresh_database(ctx)
    reconnect()
    # Chunks of 25 SKUs: enough of them to be caught mid-way.
    env = {**ctx.env, "CELERY_VISIBILITY_TIMEOUT": "3600", "INVENTORY_AI_RETRAIN_CHUNK_SIZE": "25"}
    worker = Worker(env, ctx.scratch, "kill-retrain", queues="default,training,ml", concurrency=2)
    killed, started = [], time.monotonic()
    try:
        time.sleep(6)
        store = find_store(RETRAIN_SHOP)
        run = retraining.start_retrain(store, trigger="chaos", as_of=date(2011, 12, 5))
        while True:
            time.sleep(0.5)
            run.refresh_from_db()
            if run.status not in ("queued", "running"):
                break
            busy = run.chunks.filter(attempts__gte=1, forecast_status="pending").first()
            if busy is not None and len(killed) < ctx.args.retrain_kills and kill_a_pool_process(worker):
                killed.append(busy.pk)
                time.sleep(4)
            if time.monotonic() - started > 900:
                break
        skus = Variant.objects.filter(store=store).count()
        rows_per_sku = Counter(Forecast.objects.filter(run=run).values_list("variant_id", flat=True))
        checks: dict = {}
        compare(checks, "run status", run.status, "succeeded")
        compare(checks, "SKUs with an outcome", ForecastResult.objects.filter(run=run).count(), skus)
        compare(checks, "SKUs forecast", run.skus_done, skus - run.skus_failed)
        compare(checks, "SKUs without exactly one forecast", sum(
            n != run.horizon for n in rows_per_sku.values()) + (run.skus_done - len(rows_per_sku)), 0)  # fmt: skip
        attempts = sum(run.chunks.values_list("attempts", flat=True))
        wall = time.monotonic() - started
        chunks, failed = run.chunks.count(), run.skus_failed
    finally:
        worker.stop()
    return row(
        "3b. SIGKILL during a retrain",
        f"{skus} SKUs, every model family, {chunks} chunks, {wall:.0f} s",
        f"{len(killed)} x pool process mid-chunk",
        "-",
        checks,
        f"chunk attempts {attempts} for {chunks} chunks; SKUs failed by their models: {failed}",
    )


def scenario_kill_push(ctx: Context) -> dict:
    from django.utils import timezone

    from integrations.simulator.api_server import ApiServer
    from integrations.simulator.inventory import Faults, InventoryStore, ThrottleBucket
    from integrations.simulator.state import StoreState
    from inventory_ai.choices import AdjustmentStatus
    from inventory_ai.models import InventoryLevel, Location, Product, StockAdjustment, Variant
    from inventory_ai.services import replenishment
    from inventory_ai.services.push import requeue_stalled_pushes
    from inventory_ai.services.roles import PLANNER, create_staff_user
    from inventory_ai.services.stores import find_store, upsert_store

    args = ctx.args
    fresh_database(ctx)
    reconnect()
    rng = random.Random(5)
    inventory = InventoryStore(
        faults=Faults(rate_429=0.05, rate_5xx=0.02, seed=5),
        bucket=ThrottleBucket(maximum_available=2000, restore_rate=100, available=2000),
    )
    server = ApiServer(StoreState(), inventory=inventory, access_token=ACCESS_TOKEN)
    server.start()
    kills, workers = Counter(), []
    try:
        upsert_store("shopify", SHOP, credentials={"access_token": ACCESS_TOKEN}, api_base_url=server.url)
        store = find_store(SHOP)
        location = Location.objects.create(store=store, platform_id="1", name="Warehouse", is_primary=True)
        product = Product.objects.create(store=store, platform_id="p-chaos", title="Chaos product")
        variants = Variant.objects.bulk_create(
            Variant(store=store, product=product, platform_id=str(10_000 + n), sku=f"CHAOS-{n}",
                    inventory_item_id=str(70_000 + n))
            for n in range(args.adjustments)
        )  # fmt: skip
        initial = {variant.pk: rng.randint(0, 50) for variant in variants}
        InventoryLevel.objects.bulk_create(
            InventoryLevel(variant=v, location=location, available=initial[v.pk], platform_updated_at=timezone.now())
            for v in variants
        )
        for variant in variants:
            inventory.set_level(variant.inventory_item_id, "1", initial[variant.pk])
        planner = create_staff_user("chaos-push-planner", PLANNER, "unused-password")
        expected = {}
        for variant in variants:
            delta = rng.randint(1, 48)
            adjustment = replenishment.create_adjustment(variant, location, planner, delta=delta, reason="restock")
            replenishment.decide_adjustment(adjustment, approve=True, user=planner)
            expected[variant.pk] = initial[variant.pk] + delta
        started = time.monotonic()
        workers.append(Worker(ctx.env, ctx.scratch, "kill-push-0", queues="push", concurrency=2))
        open_statuses = [AdjustmentStatus.APPROVED, AdjustmentStatus.PUSHING]
        whole_killed = False
        while StockAdjustment.objects.filter(status__in=open_statuses).exists():
            pushed = StockAdjustment.objects.filter(status=AdjustmentStatus.PUSHED).count()
            worker = workers[-1]
            if not whole_killed and pushed > args.adjustments // 2:
                worker.kill()
                kills["whole worker (main process and pool)"] += 1
                whole_killed = True
                workers.append(Worker(ctx.env, ctx.scratch, "kill-push-1", queues="push", concurrency=2))
                time.sleep(int(ctx.env["CELERY_VISIBILITY_TIMEOUT"]) + 5)
                requeue_stalled_pushes(timedelta(seconds=0))
            elif pushed > 0 and kills["pool process"] < args.push_kills and kill_a_pool_process(worker):
                kills["pool process"] += 1
            if time.monotonic() - started > 900:
                break
            time.sleep(1.0)
        wall = time.monotonic() - started
    finally:
        server.stop()
        for worker in workers:
            worker.stop()
    statuses = Counter(StockAdjustment.objects.values_list("status", flat=True))
    final = {v.pk: inventory.level(v.inventory_item_id, "1") for v in variants}
    applied = Counter(entry["key"] for entry in inventory.applied)
    checks: dict = {}
    compare(checks, "adjustments pushed", statuses.get(AdjustmentStatus.PUSHED, 0), args.adjustments)
    compare(checks, "store quantity as expected", sum(final[pk] == expected[pk] for pk in expected), len(expected))
    compare(checks, "changes applied", len(applied), args.adjustments)
    compare(checks, "changes applied more than once", sum(n > 1 for n in applied.values()), 0)
    return row(
        "3c. SIGKILL during a push batch",
        f"{args.adjustments:,} approved adjustments, {server.requests:,} store requests in {wall:.0f} s "
        f"(5% 429, 2% 5xx)",
        ", ".join(f"{count} x {what}" for what, count in kills.items()),
        "-",
        checks,
    )


def scenario_storm(ctx: Context) -> dict:
    args = ctx.args
    with webhook_stack(ctx, "storm-webhooks") as (web, _):
        once = Replay(ctx, web, SHOP, limit=args.orders_per_replay, rate=0).wait()
        storm = Replay(ctx, web, STORM_SHOP, limit=args.orders_per_replay, rate=0, extra=("--storm-copies", "3")).wait()
        settle(stale_after=args.stale_after)
        reference, stormed = store_totals(SHOP), store_totals(STORM_SHOP)
    checks = source_checks(once, reference)
    for name in ("orders", "cancelled", "order_lines", "net_units", "refunds", "demand_units", "demand_digest"):
        compare(checks, f"storm = in order: {name}", stormed[name], reference[name])
    compare(checks, "storm: events failed", stormed["events"]["failed"], 0)
    compare(checks, "storm: deliveries given up by the sender", storm["rejected"], 0)
    compare(checks, "storm: stale snapshots sent after newer ones (> 0)", storm["stale_deliveries"] > 0, True)
    return row(
        "4. Duplicate storm",
        f"{storm['sent']:,} requests ({storm['events']:,} events x 3, shuffled) in {storm['wall_seconds']:.0f} s",
        "every event 3 times (2 retries of one delivery, 1 new delivery), out of order",
        "-",
        checks,
        f"{storm['stale_deliveries']:,} deliveries arrived after a newer event of their order; events kept: "
        f"{sum(stormed['events'].values()):,} (retries of one delivery are kept once)",
    )


def scenario_abuse(ctx: Context) -> dict:
    from chaos_abuse import run_abuse

    args = ctx.args
    with webhook_stack(ctx, "abuse-webhooks") as (web, worker):
        result = run_abuse(
            web.base,
            database_url=ctx.postgres.url(CHAOS_DB),
            shopify_domain=SHOP,
            shopify_secret=WEBHOOK_SECRET,
            woo_store_url=WOO_SITE,
            woo_secret=WEBHOOK_SECRET,
            viewer_token=ctx.viewer_token,
            requests=args.abuse_requests,
            seed=args.seed,
        )
        # Afterwards the worker still works: one genuine order goes through end to end.
        replay = Replay(ctx, web, SHOP, limit=20, rate=0).wait()
        settle(timeout=120, stale_after=args.stale_after)
        totals = store_totals(SHOP)
        alive = web.alive() and worker.process.poll() is None
    checks: dict = {}
    compare(checks, "requests answered 5xx", result["server_errors"], 0)
    compare(checks, "connections dropped or timed out", result["transport_errors"], 0)
    compare(checks, "events kept = signed requests", result["events_added"], result["events_expected"])
    compare(checks, "suggestions, adjustments, audit changed", result["other_tables_changed"], False)
    compare(checks, "genuine orders after the abuse", totals["orders"], replay["source"]["orders"])
    compare(checks, "server and worker alive", alive, True)
    statuses = ", ".join(f"{code}: {count:,}" for code, count in sorted(result["by_status"].items()))
    return row(
        "5. Abuse",
        f"{result['requests']:,} requests in {result['wall_s']:.0f} s ({result['rate_per_s']:.0f}/s)",
        "-",
        bad_inputs_line(result["by_category"]),
        checks,
        f"answers: {statuses} (0: the server closed a connection that did not speak HTTP)",
    )


def bad_inputs_line(by_category: dict[str, int]) -> str:
    """The abuse run's requests per target (webhook endpoints, API, raw HTTP) and the number of kinds drawn."""
    targets = {"shopify": "Shopify webhooks", "woocommerce": "WooCommerce webhooks", "api": "API", "wire": "raw HTTP"}
    per_target: Counter[str] = Counter()
    for category, count in by_category.items():
        per_target[targets.get(category.split("/")[0], category.split("/")[0])] += count
    total = sum(by_category.values())
    return f"{total:,} generated, {len(by_category)} kinds: " + ", ".join(
        f"{target} {count:,}" for target, count in per_target.most_common()
    )


def scenario_access(ctx: Context) -> dict:
    from chaos_access import dependency_audit, deploy_check, http_access_checks, raw_database_scan

    fresh_database(ctx)
    reconnect()
    web = Web(ctx)
    # The stores' credentials and webhook secret, and the API keys of the planner and the viewer.
    needles = [ACCESS_TOKEN, WOO_CONSUMER_SECRET, WEBHOOK_SECRET, ctx.api_token, ctx.viewer_token]
    try:
        http = http_access_checks(
            web.base,
            viewer_token=ctx.viewer_token,
            viewer_username="chaos-viewer",
            viewer_password=ctx.viewer_password,
            secrets=needles,
        )
    finally:
        web.stop()
    scan = raw_database_scan(ctx.postgres.url(CHAOS_DB), needles)
    deploy = deploy_check({**ctx.env, "DATABASE_URL": ctx.postgres.url(CHAOS_DB)})
    audit = dependency_audit()
    checks: dict = {}
    compare(checks, "attempts refused", http["refused"], http["attempts"])
    compare(checks, "secrets shown", len(http["leaks"]), 0)
    compare(checks, "credentials in clear in the database", len(scan["hits"]), 0)
    compare(checks, "check --deploy clean", deploy["ok"], True)
    return row(
        "6. Access",
        f"{http['attempts']} forbidden attempts (anonymous and Viewer; API and admin)",
        "-",
        f"{len(needles)} secrets searched in {scan['columns']} columns of {scan['tables']} tables",
        checks,
        f"dependency audit: {audit['status']} ({audit['detail'][:160]})",
    )


RUNNERS = {
    "redis": [scenario_redis],
    "postgres": [scenario_postgres],
    "kill": [scenario_kill_webhooks, scenario_kill_retrain, scenario_kill_push],
    "kill-webhooks": [scenario_kill_webhooks],
    "kill-retrain": [scenario_kill_retrain],
    "kill-push": [scenario_kill_push],
    "storm": [scenario_storm],
    "abuse": [scenario_abuse],
    "access": [scenario_access],
}


# --- Report -----------------------------------------------------------------------------------------------------


def print_table(rows: list[dict]) -> bool:
    passed = True
    print("\n| scenario | load held | faults injected | bad inputs tried | proof (got = expected) | result |")
    print("|---|---|---|---|---|---|")
    for entry in rows:
        ok = all(good for _, _, good in entry["checks"].values())
        passed &= ok
        proof = "; ".join(
            f"{name} {got}" if good else f"**{name} {got} (expected {expected})**"
            for name, (got, expected, good) in entry["checks"].items()
        )
        if entry["notes"]:
            proof += f"; {entry['notes']}"
        print(f"| {entry['scenario']} | {entry['load']} | {entry['faults']} | {entry['bad_inputs']} | {proof} | "
              f"{'pass' if ok else 'FAIL'} |")  # fmt: skip
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, of {', '.join(RUNNERS)} (kill = the three kill-* scenarios)",
    )
    parser.add_argument("--orders", type=Path, default=ORDERS, help="Online Retail file (.csv or .csv.gz)")
    parser.add_argument("--orders-per-replay", type=int, default=1500, help="orders replayed per scenario")
    parser.add_argument("--rate", type=float, default=40.0, help="webhooks started per second during faults")
    parser.add_argument("--fault-after", type=float, default=8.0, help="seconds into a replay before the fault")
    parser.add_argument("--redis-outage", type=float, default=30.0)
    parser.add_argument("--postgres-outage", type=float, default=10.0)
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between pool-process kills")
    parser.add_argument("--retrain-kills", type=int, default=2)
    parser.add_argument("--adjustments", type=int, default=300, help="approved adjustments in the push scenario")
    parser.add_argument("--push-kills", type=int, default=3)
    parser.add_argument("--abuse-requests", type=int, default=10_000)
    parser.add_argument(
        "--stale-after", type=float, default=20.0, help="seconds an event waits before the sweeper enqueues it again"
    )
    parser.add_argument(
        "--visibility-timeout", type=int, default=20, help="seconds before Redis redelivers a killed worker's tasks"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, help="also write the table's rows as JSON here")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = set(chosen) - set(RUNNERS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    random.seed(args.seed)

    scratch = Path(tempfile.mkdtemp(prefix="inventory-ai-chaos-"))
    postgres = PrivatePostgres(scratch)
    redis_server = PrivateRedis(scratch)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "INVENTORY_AI_CREDENTIALS_KEYS": CREDENTIALS_KEY,
        "DATABASE_URL": postgres.url(CHAOS_DB),
        "CELERY_BROKER_URL": redis_server.url,
        "CELERY_VISIBILITY_TIMEOUT": str(args.visibility_timeout),
        "LOG_LEVEL": "WARNING",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "GUNICORN_ACCESSLOG": "",
        # Production settings serve hashed static files from a manifest: collected once, into the scratch folder.
        "INVENTORY_AI_VAR_DIR": str(scratch / "var"),
        "STATIC_ROOT": str(scratch / "static"),
    }
    ctx = Context(args, scratch, postgres, redis_server, env)
    log(f"chaos suite: {', '.join(chosen)}; logs in {scratch}")
    try:
        build_template(ctx, with_history=bool({"kill", "kill-retrain"} & set(chosen)))
        setup_django(ctx)
        for name in chosen:
            for runner in RUNNERS[name]:
                log(f"running {runner.__name__}")
                entry = runner(ctx)
                ctx.rows.append(entry)
                good = all(ok for _, _, ok in entry["checks"].values())
                log(f"{entry['scenario']}: {'pass' if good else 'FAIL'}")
    finally:
        reconnect()
        redis_server.close()
        postgres.close()
    passed = print_table(ctx.rows)
    if args.json_out:
        args.json_out.write_text(json.dumps(ctx.rows, indent=2, default=str))
    print(f"\nchaos suite: {'every check passed' if passed else 'SOME CHECKS FAILED'} (logs in {scratch})")
    if passed:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
