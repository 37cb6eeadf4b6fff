"""The purchases an order-history reader keeps for matching later returns, in bounded memory.

A return in the Online Retail file does not name its order: it is matched to the customer's most recent earlier
purchases of the same stock code. So every purchase with a customer must be kept until the end of the file, and
every invoice's line count too (an invoice can reappear later, its line ids continuing). A large store's history
holds tens of millions of them; kept in Python objects they took gigabytes. They live instead in SQLite's private
temporary database (an empty file name: on disk, deleted when the connection closes), with a page cache of
`CACHE_KIB`: memory is bounded whatever the file's size, and SQLite spills the rest to a temporary file. Additions
are buffered and written in batches; a lookup writes the buffer first, so it always sees every earlier purchase.
"""

from __future__ import annotations

import sqlite3

CACHE_KIB = 32 * 1024
BUFFER_ROWS = 20_000


class PurchaseBook:
    def __init__(self, buffer_rows: int = BUFFER_ROWS) -> None:
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.executescript(
            f"""
            PRAGMA cache_size = -{CACHE_KIB};
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA temp_store = FILE;
            CREATE TABLE purchase (
                customer TEXT NOT NULL, code TEXT NOT NULL, order_id TEXT NOT NULL, line_id TEXT NOT NULL,
                remaining INTEGER NOT NULL
            );
            CREATE INDEX purchase_item ON purchase (customer, code);
            CREATE TABLE invoice (number TEXT PRIMARY KEY, lines INTEGER NOT NULL) WITHOUT ROWID;
            """
        )
        self._buffer_rows = buffer_rows
        self._purchases: list[tuple[str, str, str, str, int]] = []
        self._line_counts: dict[str, int] = {}

    def add(self, customer: str, code: str, order_id: str, line_id: str, units: int) -> None:
        """Keep a purchase of `units` of `code` by `customer` on an order line."""
        self._purchases.append((customer, code, order_id, line_id, units))
        if len(self._purchases) >= self._buffer_rows:
            self.flush()

    def take(self, customer: str, code: str, units: int) -> list[tuple[str, str, int]]:
        """Take up to `units` from the customer's purchases of `code`, most recent first: (order id, line id, units
        taken) per purchase drawn on; a purchase's units are taken once only."""
        self.flush()
        taken: list[tuple[str, str, int]] = []
        rows = self._db.execute(
            "SELECT rowid, order_id, line_id, remaining FROM purchase WHERE customer = ? AND code = ? "
            "ORDER BY rowid DESC",
            (customer, code),
        ).fetchall()
        for rowid, order_id, line_id, remaining in rows:
            if units == 0:
                break
            amount = min(units, remaining)
            units -= amount
            taken.append((order_id, line_id, amount))
            if amount == remaining:
                self._db.execute("DELETE FROM purchase WHERE rowid = ?", (rowid,))
            else:
                self._db.execute("UPDATE purchase SET remaining = ? WHERE rowid = ?", (remaining - amount, rowid))
        return taken

    def line_count(self, invoice: str) -> int:
        """Lines already read of an invoice (0 for a new one)."""
        if invoice in self._line_counts:
            return self._line_counts[invoice]
        row = self._db.execute("SELECT lines FROM invoice WHERE number = ?", (invoice,)).fetchone()
        return row[0] if row else 0

    def set_line_count(self, invoice: str, lines: int) -> None:
        self._line_counts[invoice] = lines
        if len(self._line_counts) >= self._buffer_rows:
            self.flush()

    def flush(self) -> None:
        if not self._purchases and not self._line_counts:
            return
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO purchase VALUES (?, ?, ?, ?, ?)", self._purchases)
        self._db.executemany(
            "INSERT INTO invoice VALUES (?, ?) ON CONFLICT (number) DO UPDATE SET lines = excluded.lines",
            self._line_counts.items(),
        )
        self._db.execute("COMMIT")
        self._purchases.clear()
        self._line_counts.clear()

    def close(self) -> None:
        self._db.close()
