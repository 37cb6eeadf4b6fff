"""The broker transports' repairs: a guard so that a worker outlives a Redis outage, and an embedded (filesystem)
transport that publishes a message whole or not at all.

## The Redis guard

When Redis goes away while a worker holds unacknowledged messages (late-acknowledged tasks in flight), the worker
closes its channel to reconnect, and closing the channel tries to give those messages back to Redis. With Redis
down, kombu (5.7) fails inside that attempt with an AttributeError rather than a connection error; Celery treats it
as unrecoverable and the worker exits instead of reconnecting (the chaos suite's Redis scenario shows it).

The guard turns that failure into a logged warning. Nothing is lost by it: the messages could not be written back
anyway, a Redis that kept its data restores them after the visibility timeout, and every task they carried is
recorded in the database (webhook events, pushes, retraining chunks), where the sweepers enqueue it again.

## The embedded transport
kombu's filesystem transport (5.7) creates a message's file under its final name and then writes into it. A consumer
that lists the folder in between takes the empty file: the message is lost, and decoding it raises a JSONDecodeError
out of the consumer, which stops a Celery worker (the demo's worker died so, once, replaying its webhooks). Here a
message is written under a name no consumer takes and then renamed into place, which is atomic within one folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)


def _broker_gone_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    # AttributeError: kombu's channel has already dropped its connection object and fails looking it up.
    return (AttributeError, OSError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def guard_unacked_restore() -> None:
    """Make the Redis transport's acknowledgements and unacknowledged-message restore survive a broker connection that
    has gone away (idempotent).

    Two places fail: closing the lost channel (giving the messages in flight back), and acknowledging, after the
    worker reconnected, a task that finished meanwhile (through the old channel). The first is skipped with a
    warning. The second cannot reach the old channel's messages either: left unacknowledged, the message comes
    back after the visibility timeout if Redis kept it, and its task, idempotent like every late-acknowledged task
    here, finds its work done.
    """
    from kombu.transport import redis as redis_transport

    qos = redis_transport.QoS
    if getattr(qos.restore_unacked, "guarded", False):
        return
    gone = _broker_gone_errors()
    original_restore, original_ack, original_reject = qos.restore_unacked, qos.ack, qos.reject

    def restore_unacked(self, client=None):
        try:
            return original_restore(self, client)
        except gone as exc:
            logger.warning(
                "Could not hand %d unacknowledged message(s) back to the broker (%r); the database keeps their work "
                "and the sweepers enqueue it again",
                len(self._delivered),
                exc,
            )
            self._delivered.clear()
            return []

    def ack(self, delivery_tag):
        try:
            return original_ack(self, delivery_tag)
        except gone as exc:
            logger.warning("Could not acknowledge message %s on a lost broker connection (%r)", delivery_tag, exc)
            self._quick_ack(delivery_tag)  # forget it locally, as an acknowledgement would
            return None

    def reject(self, delivery_tag, requeue=False):
        try:
            return original_reject(self, delivery_tag, requeue=requeue)
        except gone as exc:
            logger.warning("Could not reject message %s on a lost broker connection (%r)", delivery_tag, exc)
            self._quick_ack(delivery_tag)
            return None

    restore_unacked.guarded = True
    qos.restore_unacked, qos.ack, qos.reject = restore_unacked, ack, reject


class EmbeddedChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` on `queue`: written to a file no consumer reads, then renamed to the name consumers look for.

        The name is kombu's (milliseconds of the monotonic clock first, so consumers take messages in order), and the
        partial file's name does not end in ".msg", which every queue's file name does.
        """
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"{uuid.uuid4()}.partial")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class EmbeddedTransport(filesystem.Transport):
    """kombu's filesystem transport with whole-message publishing; the embedded broker's transport
    (CELERY_BROKER_TRANSPORT)."""

    Channel = EmbeddedChannel
