"""Long work kept off the cores that answer the stores, where it shares a machine with the web and the short-work
worker: LONG_WORK_CPUS (the CPUs it may run on) and LONG_WORK_IDLE (the kernel's idle scheduling policy).

A retrain's processes at a lower CPU weight still run on every core and take turns there with the webhooks: a
webhook then often starts on a core the retrain has just used, and waits for it to yield or works with caches it
filled. Kept to some cores, and preempted at once wherever anything else wants to run, long work leaves the rest to
the web, the short-work worker and PostgreSQL (bench/stores.py measures the webhooks' latency with and without).
Applied when a worker starts, to it and the pool processes it forks, and only to a worker that consumes long work
alone: one that also applies webhooks (the demo's single worker) is left as it is. The kernel schedules control
groups (a container, a systemd service) before the processes in them, so the idle policy puts long work behind the
processes of its own group only; between groups the CPU weight (`cpu_shares`, `CPUWeight=`) decides, which is why
both are set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

logger = logging.getLogger(__name__)

LONG_WORK_QUEUES = frozenset({"training", "sync", "ml"})


def parse_cpu_list(text: str) -> frozenset[int]:
    """The CPUs of a list in the kernel's form ("1", "2-3,6"); empty for "". A ValueError says what is wrong."""
    cpus: set[int] = set()
    if not text.strip():
        return frozenset()
    for part in (piece.strip() for piece in text.split(",")):
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"LONG_WORK_CPUS: {part!r} is not a CPU number or a range such as 2-3") from None
        if low < 0 or high < low:
            raise ValueError(f"LONG_WORK_CPUS: {part!r} is not a range of CPU numbers (low-high, from 0)")
        cpus.update(range(low, high + 1))
    return frozenset(cpus)


def is_long_work(queues: Iterable[str]) -> bool:
    queues = set(queues)
    return bool(queues) and queues <= LONG_WORK_QUEUES


def place_long_work(queues: Iterable[str], cpus: frozenset[int], idle: bool) -> dict[str, object]:
    """Keep this process, and what it forks from now on, to `cpus` and (with `idle`) at the idle scheduling policy,
    when `queues` are long work only. Returns what was applied ({} when nothing was). CPUs of which none is one this
    process may use are an error in the log, and the process is left on the CPUs it had."""
    if not is_long_work(queues):
        return {}
    applied: dict[str, object] = {}
    if cpus:
        if not hasattr(os, "sched_setaffinity"):
            logger.warning("LONG_WORK_CPUS is set, but this system cannot keep a process to some CPUs: ignored")
        else:
            allowed = os.sched_getaffinity(0)
            usable = cpus & allowed
            if usable:
                os.sched_setaffinity(0, usable)
                applied["cpus"] = sorted(usable)
            else:
                logger.error("LONG_WORK_CPUS names no CPU this worker may use (it may use %s): left on those",
                             ",".join(str(cpu) for cpu in sorted(allowed)))  # fmt: skip
    if idle:
        if not hasattr(os, "SCHED_IDLE"):
            logger.warning("LONG_WORK_IDLE is set, but this system has no idle scheduling policy: ignored")
        else:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            applied["policy"] = "idle"
    if applied:
        logger.info("long-work worker placed: %s", applied)
    return applied
