"""The catalogue of jobs: declared with ``@job`` in each capability's ``jobs.py``."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from koppel.errors import NotFound

F = TypeVar("F", bound=Callable[..., None])


class UnknownJob(NotFound):
    """A job name nobody declared (typo, or the declaring module was not imported)."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[..., None]
    lock: str | None = None
    every: int | None = None
    deduplicate: bool = False

    def lock_key(self, kwargs: dict[str, Any]) -> str | None:
        """The lock template filled in with the job's arguments (``sync:{connection_id}``)."""
        return self.lock.format(**kwargs) if self.lock else None

    def queue_key(self, kwargs: dict[str, Any]) -> str | None:
        """Key under which at most one job may wait (procrastinate's ``queueing_lock``)."""
        if not (self.deduplicate or self.every):
            return None
        return self.lock_key(kwargs) or self.name


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}

    def add(self, spec: JobSpec) -> None:
        if spec.every is not None:
            cron_for(spec.every)  # fail at import time, not when a worker starts
        existing = self._specs.get(spec.name)
        if existing is not None and existing.func is not spec.func:
            raise ValueError(f"two jobs are named {spec.name!r}; job names must be unique")
        self._specs[spec.name] = spec

    def get(self, name: str) -> JobSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownJob(f"no job named {name!r}; known jobs: {', '.join(sorted(self._specs))}") from None

    def specs(self) -> list[JobSpec]:
        return sorted(self._specs.values(), key=lambda s: s.name)


REGISTRY = Registry()


def job(name: str, *, lock: str | None = None, every: int | None = None, deduplicate: bool = False) -> Callable[[F], F]:
    """Declare ``func(ctx, **kwargs)`` as job ``name`` (see ``koppel.jobs`` for the promises)."""

    def register(func: F) -> F:
        REGISTRY.add(JobSpec(name, func, lock, every, deduplicate))
        return func

    return register


def cron_for(seconds: int) -> str:
    """A croniter expression (seconds as the 6th field) for "every ``seconds``"."""
    if 0 < seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    if seconds % 60 == 0 and 3600 % seconds == 0:
        return f"*/{seconds // 60} * * * *"
    raise ValueError(f"every={seconds}: use a divisor of 60 seconds or a multiple of 60 dividing 3600")


def discover(extra_modules: Iterable[str] = ()) -> Registry:
    """Import every ``koppel.<capability>.jobs`` module (and ``extra_modules``) so all jobs exist."""
    import koppel

    for info in pkgutil.iter_modules(koppel.__path__):
        if info.ispkg and importlib.util.find_spec(f"koppel.{info.name}.jobs") is not None:
            importlib.import_module(f"koppel.{info.name}.jobs")
    for module in extra_modules:
        importlib.import_module(module)
    return REGISTRY
