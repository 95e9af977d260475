"""A periodic, locked job for the two-process in-process backend test (log path from the environment)."""

from __future__ import annotations

import os

from koppel.jobs import JobContext, job
from tests.jobs.probe_jobs import record


@job("probe.tick", every=1, lock="probe:tick")
def tick(ctx: JobContext) -> None:
    record(os.environ["KOPPEL_PROBE_LOG"], "tick")
