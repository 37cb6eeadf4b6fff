"""Build the demo's bundled sample of the Online Retail data set (kept under 3 MB).

    python bench/make_demo_sample.py ../shared/data/online_retail.csv.gz inventory_ai/demo/online_retail_sample.csv.gz

Keeps every row (sales and returns, in file order) of a fixed choice of stock codes: the most frequently sold ones,
which show the seasonal peak, plus a seeded random draw of slow movers, which show intermittent demand.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
from collections import Counter
from pathlib import Path

from integrations.online_retail import is_non_product_code, normalize_stock_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--frequent", type=int, default=250, help="Most frequently sold codes to keep")
    parser.add_argument("--slow", type=int, default=150, help="Randomly drawn slow-moving codes to keep")
    parser.add_argument("--seed", type=int, default=20101201)
    args = parser.parse_args()

    with gzip.open(args.source, "rt", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    code_at, invoice_at = header.index("StockCode"), header.index("InvoiceNo")
    sales = Counter(
        normalize_stock_code(row[code_at])
        for row in body
        if not row[invoice_at].startswith("C") and not is_non_product_code(row[code_at])
    )
    ranked = [code for code, _ in sales.most_common()]
    frequent = set(ranked[: args.frequent])
    slow_pool = [code for code, count in sales.items() if 10 <= count <= 60]
    slow = set(random.Random(args.seed).sample(sorted(slow_pool), args.slow))
    keep = frequent | slow

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    kept = 0
    for row in body:
        if normalize_stock_code(row[code_at]) in keep:
            writer.writerow(row)
            kept += 1
    args.target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(args.target, "wb", mtime=0) as handle:
        handle.write(buffer.getvalue().encode())
    print(f"{kept:,} rows, {len(keep)} stock codes, {args.target.stat().st_size / 1e6:.2f} MB -> {args.target}")


if __name__ == "__main__":
    main()
