"""Demand forecasting and inventory policy maths: pure Python (pandas, statsmodels, TensorFlow), no Django.

Data moves in long frames `unique_id, ds, y`; forecasts come back as `unique_id, ds, mean, lo-<L>, hi-<L>, model`.
"""
