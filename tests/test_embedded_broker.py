"""The embedded broker (kombu's filesystem transport, the demo's default) hands a consumer whole messages only."""

from __future__ import annotations

import subprocess
import sys
from queue import Empty

from kombu import Connection, Queue

from inventory_ai import broker
from tests.conftest import ROOT

TRANSPORT = "inventory_ai.broker:EmbeddedTransport"


def connection(folder) -> Connection:
    return Connection(
        "filesystem://",
        transport=TRANSPORT,
        transport_options={
            "data_folder_in": str(folder / "messages"),
            "data_folder_out": str(folder / "messages"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


def test_a_consumer_never_takes_a_message_that_is_still_being_written(tmp_path, monkeypatch):
    (tmp_path / "messages").mkdir()
    (tmp_path / "control").mkdir()
    with connection(tmp_path) as publisher, connection(tmp_path) as consumer:
        consumer_channel = consumer.default_channel
        seen_while_writing = []
        original_dumps = broker.dumps

        def dumps_while_a_consumer_looks(payload):
            # the message's file is open for writing: a consumer listing the folder now must find nothing to take
            try:
                seen_while_writing.append(consumer_channel._get("orders"))
            except Empty:
                seen_while_writing.append("nothing")
            return original_dumps(payload)

        monkeypatch.setattr(broker, "dumps", dumps_while_a_consumer_looks)
        publisher.Producer(serializer="json").publish(
            {"order": 1001, "note": "x" * 10_000}, routing_key="orders", exchange="", declare=[Queue("orders")]
        )

        assert seen_while_writing == ["nothing"]
        message = consumer.SimpleQueue("orders").get(timeout=2)
        assert message.payload == {"order": 1001, "note": "x" * 10_000}
        message.ack()
        assert list((tmp_path / "messages").iterdir()) == []  # no partial file left behind


def test_the_demo_default_broker_uses_the_whole_message_transport(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
        "PYTHONPATH": str(ROOT),
        "DEBUG": "1",
        "INVENTORY_AI_VAR_DIR": str(tmp_path),
    }
    script = (
        "import django; django.setup(); from inventory_ai.celery import app; "
        "print(type(app.connection_for_write().transport).__qualname__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "EmbeddedTransport"
