"""The large-store generator of `bench/scale.py`: the size asked for, every year of history, and the same bytes for
the same arguments (the scale figures must be reproducible)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from bench.scale import generate

SAMPLE = Path(__file__).resolve().parent.parent / "inventory_ai" / "demo" / "online_retail_sample.csv.gz"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The first 8,000 lines of the demo's sample: enough codes and weeks, quick to clone."""
    path = tmp_path_factory.mktemp("scale") / "source.csv.gz"
    pd.read_csv(SAMPLE, nrows=8000).to_csv(path, index=False)
    return path


def test_the_generator_writes_the_size_asked_for_deterministically(tmp_path, source):
    first = generate(source, tmp_path / "a.csv.gz", skus=120, years=2, seed=3)
    again = generate(source, tmp_path / "b.csv.gz", skus=120, years=2, seed=3)
    other = generate(source, tmp_path / "c.csv.gz", skus=120, years=2, seed=4)
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()
    assert (tmp_path / "a.csv.gz").read_bytes() != (tmp_path / "c.csv.gz").read_bytes()
    assert first == again
    assert other["rows"] == first["rows"]
    with gzip.open(tmp_path / "a.csv.gz", "rt") as handle:
        orders = pd.read_csv(handle, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    assert orders["StockCode"].nunique() == first["skus"] == 120
    assert len(orders) == first["rows"]
    assert orders["InvoiceNo"].nunique() == first["invoices"]
    dates = pd.to_datetime(orders["InvoiceDate"])
    assert (dates.max() - dates.min()).days > 364  # two years of orders, the newest ending with the source's
    # a clone's invoice keeps its source's lines together, under its own number
    clone_of = orders["StockCode"].str.rsplit("-", n=1).str[1]
    assert clone_of.groupby(orders["InvoiceNo"]).nunique().max() == 1
    assert (orders["Quantity"] != 0).all()  # scaled, never to nothing (returns and write-offs keep their sign)


def test_more_skus_than_the_source_clones_its_codes(tmp_path, source):
    source_codes = pd.read_csv(source, dtype={"StockCode": str})["StockCode"]
    many = int(source_codes.str.match(r"^\d{5}[A-Za-z]{0,2}$").pipe(lambda s: source_codes[s].nunique())) + 25
    made = generate(source, tmp_path / "big.csv.gz", skus=many, years=1, seed=0)
    assert made["skus"] == many
    with gzip.open(tmp_path / "big.csv.gz", "rt") as handle:
        codes = pd.read_csv(handle, dtype={"StockCode": str})["StockCode"]
    assert codes.nunique() == many
    assert set(codes.str.rsplit("-", n=1).str[1]) == {"0", "1"}
