"""Compress stored webhook bodies with lz4 on PostgreSQL (faster than the default pglz on every insert)."""

from django.db import DatabaseError, migrations, transaction


def use_lz4(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name("inventory_ai_webhookevent")
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN body SET COMPRESSION lz4")
    except DatabaseError:
        # A server built without lz4 keeps its default compression: slower inserts, same behaviour.
        pass


def use_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name("inventory_ai_webhookevent")
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN body SET COMPRESSION default")


class Migration(migrations.Migration):
    dependencies = [("inventory_ai", "0002_webhook_event_resource")]

    operations = [migrations.RunPython(use_lz4, use_default)]
