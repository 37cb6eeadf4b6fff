"""Fast bulk writes for the hot paths (imports, webhook bursts), one code path per database vendor.

PostgreSQL gets COPY and array-unnest statements (one round trip for thousands of rows, instead of one statement
per row); SQLite, which runs in-process, gets executemany.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(connection.ops.quote_name(name) for name in names)


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Insert plain rows (no conflict handling): COPY on PostgreSQL."""
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({_quoted(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {connection.ops.quote_name(table)} ({_quoted(columns)}) VALUES ({placeholders})", rows
            )


def upsert_add(
    table: str,
    key_columns: Sequence[str],
    add_columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    column_types: Sequence[str],
    insert_defaults: dict[str, object] | None = None,
) -> None:
    """Insert rows, or add their values to the existing row with the same key (`col = col + excluded.col`).

    `rows` hold the key columns then the added columns; `column_types` are their PostgreSQL types (for unnest).
    `insert_defaults` are constant values for other columns of newly inserted rows.
    """
    if not rows:
        return
    defaults = insert_defaults or {}
    table_sql = connection.ops.quote_name(table)
    columns = [*key_columns, *add_columns, *defaults]
    quote = connection.ops.quote_name
    updates = ", ".join(f"{quote(name)} = {table_sql}.{quote(name)} + excluded.{quote(name)}" for name in add_columns)
    conflict = f"ON CONFLICT ({_quoted(key_columns)}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{column_type}[]" for column_type in column_types)
            constants = "".join(", %s" for _ in defaults)
            cursor.execute(
                f"INSERT INTO {table_sql} ({_quoted(columns)}) SELECT *{constants} FROM unnest({arrays}) {conflict}",
                # the constants come first in the statement's text, so first in the parameters
                [*defaults.values(), *(list(column) for column in zip(*rows, strict=True))],
            )
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table_sql} ({_quoted(columns)}) VALUES ({placeholders}) {conflict}",
                [(*row, *defaults.values()) for row in rows],
            )


def refresh_statistics(models: Sequence[type]) -> None:
    """Refresh the query planner's statistics of the tables of `models` after a bulk load (ANALYZE on PostgreSQL).

    Without statistics the planner guesses row counts, and on a freshly loaded history it chose plans that read the
    daily demand of a chunk of SKUs in minutes instead of milliseconds. PostgreSQL's autovacuum would analyze the
    tables eventually, but only after its next pass, and a deployment may run with it switched off. SQLite's planner
    needs no refresh for these reads.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
