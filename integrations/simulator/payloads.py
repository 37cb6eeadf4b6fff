"""What both platforms' payload builders share: compact encoding, the line-fragment cache, refund ids and amounts.

Payloads are built twice over: as dicts (`shopify_payloads.shopify_order`, `woocommerce_payloads.woo_order`, used by
the API server and as the reference) and as bytes (`..._json`), where each line item's variant-dependent part is
encoded once per variant and spliced in. Tests hold the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from integrations.records import RefundRecord
from integrations.simulator.state import OrderState

ZERO = Decimal(0)
# A refund line's id is the refund id times this plus its position: unique per store and below 2**53 for the
# Online Retail ids (refund ids are about 6e11).
REFUND_LINE_ID_FACTOR = 10_000
# Compact and ASCII-only: the bytes signed are the bytes sent, whatever the receiver's decoding.
_encoder = json.JSONEncoder(separators=(",", ":"))
# The encoded variant-dependent part of line items, by variant fields and price: a few thousand entries for a
# whole Online Retail file, and encoding it once per variant instead of once per line halves the build time.
_fragment_cache: dict[tuple, str] = {}
FRAGMENT_CACHE_SIZE = 100_000


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def encode_text(payload: object) -> str:
    return _encoder.encode(payload)


def encode(payload: object) -> bytes:
    return _encoder.encode(payload).encode("ascii")


def object_fragment(key: tuple, build: Callable[[], dict[str, Any]]) -> str:
    """`build()` encoded without its opening brace (to follow other members), cached by `key`."""
    text = _fragment_cache.get(key)
    if text is None:
        if len(_fragment_cache) >= FRAGMENT_CACHE_SIZE:
            _fragment_cache.clear()
        text = _fragment_cache[key] = encode_text(build())[1:]
    return text


def refund_line_ids(refund: RefundRecord) -> list[int]:
    base = int(refund.refund_id) * REFUND_LINE_ID_FACTOR
    return [base + position for position in range(1, len(refund.lines) + 1)]


def refund_amount(order: OrderState, refund: RefundRecord) -> Decimal:
    amount = ZERO
    for refund_line in refund.lines:
        line = order.line_index.get(refund_line.line_id)
        if line is not None:
            amount += line.unit_price * refund_line.quantity
    return amount
