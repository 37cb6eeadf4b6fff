"""Peer rows for bench/drivers.py: Nixtla mlforecast + LightGBM on the same data, origins, drivers and scorer.

    .venv-bench/bin/python bench/mlforecast_baselines.py --set rossmann|bike [--shared ../shared/data]
        [--origins 2015-06-19]

A bench-only tool with its own virtualenv (bench/requirements-statsforecast.txt: mlforecast needs pandas<3, the
product pins pandas 3). It prints one JSON object per line and model, `{"model", "result"}`, which bench/drivers.py
prints as rows beside the engine's.

The set-up is mlforecast's documented one for daily retail data: a LightGBM regressor (500 trees, learning rate
0.05, 63 leaves, seed 0) on lags 1, 7, 14 and 28, rolling means of 7 and 28 days of lag 1 and of 4 weeks of lag 7,
the date features day of week, day, month, week and day of year, each series standardised (LocalStandardScaler);
the drivers as dynamic features (their future values through `X_df`), the constant ones as static features.
Recursive forecasts; conformal 80% intervals from two windows of the horizon (`PredictionIntervals`). Rows:
`ml:lightgbm` without drivers, `ml:lightgbm +drivers` with them (bike: with the weather as observed, and as known
at the origin, bench/drivers.py's two readings).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import driver_protocols
import lightgbm
import numpy as np
import pandas as pd
from mlforecast import MLForecast
from mlforecast.lag_transforms import RollingMean
from mlforecast.target_transforms import LocalStandardScaler
from mlforecast.utils import PredictionIntervals

BIKE_WEATHER = ("temp", "atemp", "hum", "windspeed", "weathersit")


def forecaster(use_drivers: bool, weather_known: bool = False):
    def forecast(train: pd.DataFrame, data: driver_protocols.DriverSet, origin: pd.Timestamp) -> pd.DataFrame:
        model = MLForecast(
            models={
                "lightgbm": lightgbm.LGBMRegressor(
                    n_estimators=500, learning_rate=0.05, num_leaves=63, random_state=0, verbosity=-1
                )
            },
            freq=data.freq,
            lags=[1, 7, 14, 28],
            lag_transforms={1: [RollingMean(7), RollingMean(28)], 7: [RollingMean(4)]},
            date_features=["dayofweek", "day", "month", "week", "dayofyear"],
            target_transforms=[LocalStandardScaler()],
        )
        frame, future, static = train, None, []
        if use_drivers:
            drivers = data.drivers[data.drivers.ds <= origin + pd.Timedelta(days=data.horizon)]
            if weather_known:
                drivers = driver_protocols.climatology(drivers, origin, BIKE_WEATHER, 16)
            columns = [c for c in drivers.columns if c not in {"unique_id", "ds"}]
            static = [c for c in columns if drivers.groupby("unique_id")[c].nunique(dropna=False).max() == 1]
            frame = train.merge(drivers, on=["unique_id", "ds"], how="left")
            future = drivers[drivers.ds > origin][["unique_id", "ds", *[c for c in columns if c not in static]]]
            frame[static] = frame[static].fillna(-1.0)  # mlforecast refuses missing static values
        model.fit(
            frame,
            static_features=static,
            prediction_intervals=PredictionIntervals(n_windows=2, h=data.horizon),
        )
        result = model.predict(data.horizon, X_df=future, level=[80])
        for column in ("lightgbm", "lightgbm-lo-80", "lightgbm-hi-80"):
            result[column] = np.maximum(result[column], 0.0)
        return result.rename(columns={"lightgbm": "mean", "lightgbm-lo-80": "lo-80", "lightgbm-hi-80": "hi-80"})

    return forecast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", required=True, choices=["rossmann", "bike"])
    parser.add_argument("--shared", type=Path, default=driver_protocols.ROOT.parent / "shared" / "data")
    parser.add_argument("--origins", default=None)
    args = parser.parse_args()
    data = getattr(driver_protocols, args.set)(args.shared)
    if args.origins:
        data = driver_protocols.DriverSet(
            data.name, data.title, data.sales, data.drivers,
            tuple(pd.Timestamp(day) for day in args.origins.split(",")), data.horizon, data.freq,
        )  # fmt: skip
    runs = [("ml:lightgbm", forecaster(False)), ("ml:lightgbm +drivers", forecaster(True))]
    if args.set == "bike":
        runs = [
            ("ml:lightgbm", forecaster(False)),
            ("ml:lightgbm +weather observed", forecaster(True)),
            ("ml:lightgbm +weather 16d+clim.", forecaster(True, weather_known=True)),
        ]
    for label, forecast in runs:
        result = driver_protocols.evaluate(data, forecast, label)
        print(json.dumps({"model": label, "result": result}), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
