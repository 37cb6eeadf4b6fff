"""`python -m integrations.simulator replay ...`: replay an Online Retail file as a store's webhooks.

Example (Shopify):

    python -m integrations.simulator replay --platform shopify --orders online_retail.csv.gz \\
        --target http://127.0.0.1:8000/webhooks/shopify/ --secret s3cret --shop-domain demo.myshopify.com \\
        --concurrency 16 --duplicates 0.05 --json-out replay.json

`python -m integrations.simulator weather --port 8090` serves Open-Meteo's archive and forecast APIs alone (seeded
weather for any place, `integrations.simulator.weather`) until interrupted.

With `--platform woocommerce` a WooCommerce REST API for the replayed orders runs on 127.0.0.1 (`--api-port`, 0
picks a free port and prints it) so that a receiver can fetch refunds; it stays up until the replay ends plus
`--linger` seconds. Without `--site-url` the webhooks name that API's address as their source. The exit status is
0 when every event was accepted, 1 when some were rejected after all attempts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from integrations.simulator.api_server import ApiServer, start_api_server
from integrations.simulator.events import DEFAULT_SHOP_DOMAIN, PLATFORMS, WOOCOMMERCE, Event, iter_events
from integrations.simulator.replay import HTTP_TRANSPORTS, replay
from integrations.simulator.state import SourceTotals, StoreState, counted, first_orders, read_online_retail
from integrations.simulator.weather import start_weather_server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m integrations.simulator", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("replay", help="send a file's orders and refunds to a webhook receiver")
    run.add_argument("--platform", choices=PLATFORMS, required=True)
    run.add_argument("--orders", required=True, type=Path, help="Online Retail file (.csv or .csv.gz)")
    run.add_argument("--target", required=True, help="webhook URL to POST to")
    run.add_argument("--secret", required=True, help="signing secret (Shopify app secret / WooCommerce webhook)")
    run.add_argument("--shop-domain", default=DEFAULT_SHOP_DOMAIN, help="X-Shopify-Shop-Domain")
    run.add_argument("--site-url", default="", help="WooCommerce site (X-WC-Webhook-Source); default: the API")
    run.add_argument("--rate", type=float, default=0.0, help="events started per second (0 = unlimited)")
    run.add_argument("--duplicates", type=float, default=0.0, help="fraction of accepted events sent twice")
    run.add_argument("--drop", type=float, default=0.0, help="fraction of events never delivered (lost webhooks)")
    run.add_argument("--concurrency", type=int, default=16, help="requests in flight at most")
    run.add_argument("--limit", type=int, default=0, help="replay the file up to its N-th order (0 = all)")
    run.add_argument("--timeout", type=float, default=5.0, help="seconds before a request counts as failed")
    run.add_argument("--max-attempts", type=int, default=8, help="sends per delivery, retries included")
    run.add_argument("--seed", type=int, default=0, help="seed for choosing the duplicated events")
    run.add_argument(
        "--storm-copies",
        type=int,
        default=1,
        help="a duplicate storm: every event this many times, shuffled in windows, no order kept (1 = off)",
    )
    run.add_argument("--storm-window", type=int, default=200, help="events shuffled together in a storm")
    run.add_argument("--backoff-cap", type=float, default=5.0, help="longest wait between two sends, seconds")
    run.add_argument("--json-out", type=Path, help="also write the report as JSON here")
    run.add_argument("--api-port", type=int, default=None, help="store API port (always on for WooCommerce)")
    run.add_argument("--linger", type=float, default=0.0, help="seconds the store API stays up after the replay")
    run.add_argument("--consumer-key", default="ck_demo", help="WooCommerce API consumer key")
    run.add_argument("--consumer-secret", default="cs_demo", help="WooCommerce API consumer secret")
    run.add_argument("--access-token", default="shpat_demo", help="Shopify Admin API access token")
    run.add_argument(
        "--http-transport",
        choices=HTTP_TRANSPORTS,
        default="lean",
        help="lean: a minimal HTTP/1.1 client for http:// targets (default, ~10x less CPU); httpx: httpx's own",
    )
    run.add_argument("--timezone", default="Europe/London", help="time zone of the file's dates (shop time)")
    run.add_argument("--currency", default="GBP")
    weather = commands.add_parser("weather", help="serve Open-Meteo's archive and forecast APIs on 127.0.0.1")
    weather.add_argument("--port", type=int, default=0, help="0 picks a free port and prints it")
    weather.add_argument("--seed", type=int, default=0, help="the same seed gives the same weather")
    weather.add_argument("--archive-delay-days", type=int, default=2, help="the archive's newest days left null")
    return parser


def serve_weather(args: argparse.Namespace, out: Any = sys.stdout) -> int:
    server = start_weather_server(args.seed, port=args.port, archive_delay_days=args.archive_delay_days)
    print(f"Weather API: archive {server.archive_url}, forecast {server.forecast_url}", file=out, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


async def run_replay(args: argparse.Namespace, out: Any = sys.stdout) -> dict[str, Any]:
    state = StoreState(tz=ZoneInfo(args.timezone))
    api: ApiServer | None = None
    if args.platform == WOOCOMMERCE or args.api_port is not None:
        api = start_api_server(
            state,
            port=args.api_port or 0,
            site_url=args.site_url,
            consumer_key=args.consumer_key,
            consumer_secret=args.consumer_secret,
            access_token=args.access_token,
        )
        print(f"Store API listening on {api.url} (port {api.port})", file=out, flush=True)
    try:
        totals = SourceTotals()
        records = counted(first_orders(read_online_retail(args.orders, state.tz, args.currency), args.limit), totals)
        events = iter_events(
            args.platform,
            records,
            secret=args.secret,
            state=state,
            shop_domain=args.shop_domain,
            site_url=args.site_url or (api.url if api else "https://shop.example"),
        )
        stats = await replay(
            frozen_as_they_go(events),
            args.target,
            concurrency=args.concurrency,
            rate=args.rate,
            duplicates=args.duplicates,
            drop=args.drop,
            timeout=args.timeout,
            max_attempts=args.max_attempts,
            seed=args.seed,
            http_transport=args.http_transport,
            storm_copies=args.storm_copies,
            storm_window=args.storm_window,
            backoff_cap=args.backoff_cap,
        )
        report = {"platform": args.platform, "target": args.target} | stats.as_dict() | {"source": totals.as_dict()}
        if api is not None:
            report["api_url"] = api.url
            report["api_requests"] = api.requests
        print_report(report, out)
        write_report(report, args.json_out)
        if api is not None and args.linger > 0:
            print(f"Store API stays up {args.linger:g} s more for late fetches", file=out, flush=True)
            await asyncio.sleep(args.linger)
    finally:
        if api is not None:
            api.stop()
    if api is not None:
        report["api_requests"] = api.requests
        print(f"Store API answered {api.requests:,} requests", file=out, flush=True)
        write_report(report, args.json_out)
    return report


def frozen_as_they_go(events: Iterable[Event], every: int = 1000) -> Iterator[Event]:
    """Pass events through, moving what the process holds into the garbage collector's permanent generation every
    `every` events. The store's state grows to hundreds of MB of long-lived objects (every order line of the file);
    left in view, each full collection re-scans all of it, pausing the replay for up to ~0.7 s, which would show
    as receiver latency. Nothing the replay keeps needs cyclic collection."""
    for count, event in enumerate(events, 1):
        if count % every == 0:
            gc.freeze()
        yield event


def write_report(report: dict[str, Any], path: Path | None) -> None:
    if path is not None:
        path.write_text(json.dumps(report, indent=2) + "\n")


def print_report(report: dict[str, Any], out: Any) -> None:
    latency, source = report["latency_ms"], report["source"]
    rejected = ", ".join(f"{count:,} x {status}" for status, count in report["rejected_by_status"].items())
    lines = [
        f"Replayed {report['events']:,} {report['platform']} events to {report['target']} "
        f"in {report['wall_seconds']:.1f} s",
        f"  requests sent: {report['sent']:,} "
        f"(retries {report['retried']:,}, duplicates {report['duplicates_sent']:,})",
        f"  accepted:      {report['accepted']:,} ({report['throughput_per_s']:,.1f}/s)",
        f"  rejected:      {report['rejected']:,}" + (f" ({rejected})" if rejected else ""),
        f"  latency ms:    p50 {latency['p50']}, p95 {latency['p95']}, p99 {latency['p99']}, max {latency['max']}",
        "Source totals (what the receiver should hold):",
        f"  orders {source['orders']:,}, order lines {source['order_lines']:,}, net units {source['net_units']:,} "
        f"({source['units_ordered']:,} ordered - {source['units_refunded']:,} refunded), "
        f"refunds {source['refunds']:,}",
    ]
    print("\n".join(lines), file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "weather":
        return serve_weather(args)
    if not 0 <= args.duplicates <= 1:
        build_parser().error("--duplicates is a fraction between 0 and 1")
    if not args.orders.is_file():
        build_parser().error(f"--orders {args.orders}: no such file")
    try:
        report = asyncio.run(run_replay(args))
    except ValueError as exc:  # the reader's "not an Online Retail file", a bad time zone or URL
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if report["rejected"] else 0


if __name__ == "__main__":
    sys.exit(main())
