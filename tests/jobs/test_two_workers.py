"""Two worker processes share the work, and a locked job never runs twice at the same time."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from koppel.db import migrate
from koppel.jobs.context import JobContext
from koppel.settings import Settings
from tests.support.databases import ENV, throwaway_database

ROOT = Path(__file__).resolve().parents[2]


def parse(log: Path) -> dict[str, list[tuple[float, float, str]]]:
    """Runs per label: (start, end, pid), from the probe's log."""
    starts: dict[tuple[str, str], list[float]] = defaultdict(list)
    runs: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for line in log.read_text().splitlines():
        kind, label, pid, at = line.split()
        if kind == "start":
            starts[(label, pid)].append(float(at))
        else:
            runs[label].append((starts[(label, pid)].pop(0), float(at), pid))
    return runs


def overlapping(runs: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    ordered = sorted(runs)
    return [b for a, b in itertools.pairwise(ordered) if b[0] < a[1]]


def start_workers(env: dict[str, str], module: str, count: int = 2) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "koppel", "worker", "--concurrency", "1", "--import", module]
    return [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(count)]


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=20)


def wait_for(log: Path, ends: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count("end ") >= ends:
            return
        time.sleep(0.1)
    raise AssertionError(f"only {log.read_text().count('end ') if log.exists() else 0} of {ends} jobs finished")


def worker_env(tmp_path: Path, database_url: str, backend: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KOPPEL_DATA_DIR": str(tmp_path),
        "KOPPEL_DATABASE_URL": database_url,
        "KOPPEL_JOB_BACKEND": backend,
        "KOPPEL_PROBE_LOG": str(tmp_path / "probe.log"),
    }


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    if not os.environ.get(ENV):
        pytest.skip(f"procrastinate needs PostgreSQL; set {ENV}")
    with throwaway_database("postgresql", tmp_path) as url:
        yield url


def test_procrastinate_workers_never_run_a_locked_job_twice_at_once(tmp_path: Path, postgres_url: str) -> None:
    from koppel.jobs.procrastinate_backend import ProcrastinateRunner, ensure_schema
    from koppel.jobs.registry import discover

    migrate.upgrade(postgres_url)
    ensure_schema(postgres_url)
    env = worker_env(tmp_path, postgres_url, "procrastinate")
    log = tmp_path / "probe.log"
    settings = Settings(data_dir=tmp_path, database_url=postgres_url, job_backend="procrastinate", secret_key="k" * 43)
    runner = ProcrastinateRunner(JobContext.from_settings(settings), registry=discover(["tests.jobs.probe_jobs"]))
    for key in ("a", "b"):  # all of a first: without the lock both workers would take an a at once
        for _ in range(5):
            runner.enqueue("probe.locked", key=key, log=str(log))
    runner.close()
    workers = start_workers(env, "tests.jobs.probe_jobs")
    try:
        wait_for(log, 10)
    finally:
        stop(workers)
    runs = parse(log)
    assert len(runs["a"]) == len(runs["b"]) == 5
    assert overlapping(runs["a"]) == [] and overlapping(runs["b"]) == [], "a locked job ran twice at once"
    # Each worker runs one job at a time, so a and b overlapping means both workers took work.
    assert overlapping(runs["a"] + runs["b"]), "the two workers never worked in parallel"
    assert len({pid for _, _, pid in runs["a"] + runs["b"]}) == 2


def test_inprocess_workers_on_one_sqlite_file_share_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'koppel.db'}"
    migrate.upgrade(url)
    log = tmp_path / "probe.log"
    workers = start_workers(worker_env(tmp_path, url, "inprocess"), "tests.jobs.probe_periodic")
    try:
        wait_for(log, 6)
    finally:
        stop(workers)
    runs = parse(log)["tick"]
    assert overlapping(runs) == [], "the periodic locked job ran in both processes at once"
