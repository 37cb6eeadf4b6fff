"""Demand forecasting and inventory policy maths: pure Python (pandas, statsmodels, TensorFlow), no Django.

Data moves in long frames `unique_id, ds, y`; forecasts come back as `unique_id, ds, mean, lo-<L>, hi-<L>, model`.

The package's public face: `forecast_many` and `backtest` (`forecasting.engine`), imported on first use so that
importing a submodule stays cheap.
"""

__all__ = ["backtest", "forecast_many"]


def __getattr__(name: str):
    if name in __all__:
        from forecasting import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'forecasting' has no attribute {name!r}")
