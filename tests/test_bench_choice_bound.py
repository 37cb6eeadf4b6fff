"""The scoring of `bench/choice_bound.py`: its specs, each class's contribution to the WRMSSE, and the two bounds in
hindsight, on numbers small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bench.choice_bound import bounds, contributions, spec_names


def test_specs_are_each_model_and_each_average_of_up_to_the_members_asked():
    assert spec_names(("a", "b", "c"), 1) == ["a", "b", "c"]
    assert spec_names(("a", "b", "c"), 3) == ["a", "b", "c", "a+b", "a+c", "b+c", "a+b+c"]


def test_a_class_contributes_its_series_weighted_rmsse_and_an_average_is_its_members_mean():
    actual = np.array([[2.0, 2.0], [10.0, 10.0], [4.0, 4.0]])
    scale = np.array([1.0, 2.0, 1.0])
    weight = np.array([0.5, 0.25, 0.25])
    forecasts = {"low": np.zeros((3, 2)), "high": np.full((3, 2), 4.0)}
    rows = np.array([True, True, False])
    scores = contributions(actual, scale, weight, forecasts, rows, ["low", "high", "low+high"])
    # low: 0.5 * 2/1 + 0.25 * 10/2; high: 0.5 * 2/1 + 0.25 * 6/2; their mean forecasts 2: 0 + 0.25 * 8/2
    assert scores == pytest.approx({"low": 2.25, "high": 1.75, "low+high": 1.0})


def test_the_bounds_take_the_best_fixed_spec_per_class_and_the_best_per_origin():
    by_origin = [
        {"smooth": {"a": 0.5, "b": 0.6}, "intermittent": {"a": 0.2, "b": 0.1}},
        {"smooth": {"a": 0.7, "b": 0.4}, "intermittent": {"a": 0.1, "b": 0.2}},
    ]
    rest = [0.05, 0.15]
    found = bounds(by_origin, rest)
    # smooth: a 0.60, b 0.50 on average; intermittent: a and b 0.15 each (the first in order wins the tie)
    assert found["fixed"] == {"intermittent": "a", "smooth": "b"}
    assert found["fixed_score"] == pytest.approx(np.mean([0.6 + 0.2 + 0.05, 0.4 + 0.1 + 0.15]))
    assert found["per_origin_score"] == pytest.approx(np.mean([0.5 + 0.1 + 0.05, 0.4 + 0.1 + 0.15]))


def test_a_class_missing_at_an_origin_adds_nothing_there():
    by_origin = [{"smooth": {"a": 0.5, "b": 0.6}, "seasonal": {"a": 0.3, "b": 0.2}}, {"smooth": {"a": 0.7, "b": 0.4}}]
    found = bounds(by_origin, [0.0, 0.0])
    assert found["fixed"] == {"seasonal": "b", "smooth": "b"}
    assert found["fixed_score"] == pytest.approx(np.mean([0.6 + 0.2, 0.4]))
    assert found["per_origin_score"] == pytest.approx(np.mean([0.5 + 0.2, 0.4]))
