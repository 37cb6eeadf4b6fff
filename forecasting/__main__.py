"""`python -m forecasting evaluate --data <csv> --freq W-SUN --horizon 4 --windows 4`: backtest accuracy per model.

The CSV holds a long frame `unique_id, ds, y` (optionally `censored`); it is summed into periods of `--freq`.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from forecasting.engine import MODELS, backtest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forecasting", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="rolling-origin backtest of every model, averaged over series")
    evaluate.add_argument("--data", required=True, help="CSV with unique_id, ds, y (plain or .gz)")
    evaluate.add_argument("--freq", default="W-SUN", help="pandas frequency to sum demand into (default W-SUN)")
    evaluate.add_argument("--horizon", type=int, default=4)
    evaluate.add_argument("--windows", type=int, default=4)
    evaluate.add_argument("--season-length", type=int, default=None)
    evaluate.add_argument(
        "--models",
        default=",".join(MODELS),
        help="comma-separated model names; also lstm (the global network) and pairs such as lstm+imapa",
    )
    args = parser.parse_args(argv)

    history = pd.read_csv(args.data, parse_dates=["ds"])
    missing = {"unique_id", "ds", "y"} - set(history.columns)
    if missing:
        parser.error(f"{args.data} lacks column(s) {', '.join(sorted(missing))}")
    report = backtest(history, args.horizon, args.freq, args.windows, args.season_length, models=args.models.split(","))
    table = report.groupby("model")[["mase", "rmsse", "mae", "rmse", "bias", "r2"]].mean().sort_values("rmsse")
    table.insert(0, "series", report.groupby("model").unique_id.nunique())
    print(f"{report.unique_id.nunique():,} series, horizon {args.horizon}, {args.windows} windows, freq {args.freq}")
    print(table.to_string(float_format=lambda value: f"{value:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
