"""Long work kept off the cores that answer the stores (LONG_WORK_CPUS, LONG_WORK_IDLE): applied to a worker that
consumes long work alone and to its pool processes, never to one that applies webhooks."""

from __future__ import annotations

import logging
import os

import pytest

from inventory_ai.worker_cpus import is_long_work, parse_cpu_list, place_long_work


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("", set()), ("  ", set()), ("1", {1}), (" 3 ", {3}), ("0-2,5", {0, 1, 2, 5}), ("2-2", {2})],
)
def test_a_cpu_list_is_read_in_the_kernels_form(text, cpus):
    assert parse_cpu_list(text) == cpus


@pytest.mark.parametrize(("text", "named"), [("a", "'a'"), ("3-1", "'3-1'"), ("1,,2", "''"), ("-1", "'-1'")])
def test_a_cpu_list_that_is_not_one_is_refused_with_the_part_named(text, named):
    with pytest.raises(ValueError, match="LONG_WORK_CPUS") as refused:
        parse_cpu_list(text)
    assert named in str(refused.value)


def test_only_a_worker_of_long_work_alone_counts_as_long_work():
    assert is_long_work({"training", "sync", "ml"})
    assert is_long_work(["training"])
    assert not is_long_work({"training", "sync", "ml", "webhooks"})  # the demo's single worker applies webhooks too
    assert not is_long_work({"default", "webhooks", "push"})
    assert not is_long_work(())


def test_a_worker_of_short_work_is_left_as_it_is():
    # given this process on the CPUs it has
    before = os.sched_getaffinity(0)
    # when it is placed as a short-work worker with CPUs and the idle policy set
    applied = place_long_work({"default", "webhooks", "push"}, frozenset({min(before)}), idle=True)
    # then nothing changed
    assert applied == {}
    assert os.sched_getaffinity(0) == before
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_cpus_of_which_none_can_be_used_are_logged_and_the_worker_keeps_its_cpus(caplog):
    before = os.sched_getaffinity(0)
    with caplog.at_level(logging.ERROR, logger="inventory_ai.worker_cpus"):
        applied = place_long_work({"training"}, frozenset({max(before) + 4096}), idle=False)
    assert applied == {}
    assert os.sched_getaffinity(0) == before
    assert "LONG_WORK_CPUS names no CPU this worker may use" in caplog.text


@pytest.mark.worker
def test_a_long_work_worker_and_its_pool_keep_to_their_cpus_at_the_idle_policy_and_short_work_does_not(start_worker):
    # given a machine's CPUs and one of them named for long work, with the idle policy
    allowed = os.sched_getaffinity(0)
    kept = max(allowed)
    placement = {"LONG_WORK_CPUS": str(kept), "LONG_WORK_IDLE": "1"}

    # when a long-work worker and a short-work worker start with the same settings (as docker-compose passes them)
    long = start_worker(pool="prefork", concurrency=2, queues="training,sync,ml", **placement)
    short = start_worker(pool="prefork", concurrency=1, queues="default,webhooks,push", **placement)

    # then the long-work worker and every pool process of it run only there, at the idle policy, and took a task
    # (start_worker waits for a ping through its first queue)
    long_processes = [long.process.pid, *long.children()]
    assert len(long_processes) == 3
    for pid in long_processes:
        assert os.sched_getaffinity(pid) == {kept}, pid
        assert os.sched_getscheduler(pid) == os.SCHED_IDLE, pid
    # and the short-work worker runs where it was started, at the normal policy
    for pid in [short.process.pid, *short.children()]:
        assert os.sched_getaffinity(pid) == allowed, pid
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER, pid
    assert "long-work worker placed" in long.log
