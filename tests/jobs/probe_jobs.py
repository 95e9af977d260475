"""Jobs for the worker tests: each run appends start/end lines to a log file, with its pid."""

from __future__ import annotations

import os
import time

from koppel.jobs import JobContext, job

RUN_SECONDS = 0.3


def record(log: str, label: str) -> None:
    started = time.time()
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"start {label} {os.getpid()} {started}\n")
    time.sleep(RUN_SECONDS)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"end {label} {os.getpid()} {time.time()}\n")


@job("probe.locked", lock="probe:{key}")
def locked(ctx: JobContext, *, key: str, log: str) -> None:
    record(log, key)
