"""The neighbour of `bench/stores.py --neighbour`: a process that does nothing the product does, kept to the CPUs
given at the idle policy while the block runs, and gone after it (a bench that leaves a spinning process behind would
skew every figure measured after it)."""

from __future__ import annotations

import os

import pytest

from bench.stores import NEIGHBOURS, neighbour


@pytest.mark.parametrize("kind", sorted(NEIGHBOURS))
def test_the_neighbour_runs_on_its_cpus_at_the_idle_policy_and_stops_after(kind):
    cpus = {min(os.sched_getaffinity(0))}
    with neighbour(kind, cpus) as process:
        assert process.poll() is None  # running
        assert os.sched_getaffinity(process.pid) == cpus
        assert os.sched_getscheduler(process.pid) == os.SCHED_IDLE
    assert process.poll() is not None
