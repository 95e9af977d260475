"""What every ``koppel`` command shares: settings, a database, and output (rich or ``--json``).

Capabilities define their commands in their own ``cli.py`` with these helpers; ``koppel.cli``
mounts them. Errors (``KoppelError``) print as one readable line and exit 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.base import utcnow
from koppel.db.engine import make_engine, make_session_factory
from koppel.errors import KoppelError
from koppel.security.crypto import SecretBox
from koppel.settings import Settings, load_settings

P = ParamSpec("P")
R = TypeVar("R")

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
console = Console(stderr=False)
err_console = Console(stderr=True)


@dataclass
class Runtime:
    """The assembled parts a command needs, built once per invocation."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        from koppel.db import migrate

        if self.settings.database_url.startswith("sqlite"):
            migrate.upgrade(self.settings.database_url)  # the embedded default upgrades itself
        return make_session_factory(self.engine)

    @cached_property
    def secret_box(self) -> SecretBox:
        return SecretBox(self.settings.secret)

    def now(self) -> datetime:
        return utcnow()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.session_factory() as session, session.begin():
            yield session


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(load_settings())
    return _runtime


def set_runtime(value: Runtime | None) -> None:
    global _runtime
    _runtime = value


def readable_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a KoppelError into one line on stderr and exit status 1 (no traceback)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except KoppelError as exc:
            if any(a == "--json" for a in sys.argv):
                print(json.dumps({"error": exc.to_problem()}), file=sys.stderr)
            else:
                err_console.print(f"[red]error:[/red] {exc.detail}")
            raise typer.Exit(1) from exc

    return wrapper


def emit(data: Any, *, as_json: bool, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """Print ``data`` as JSON or as a table (lists of dicts) / key-value lines (a dict)."""
    if as_json:
        print(json.dumps(data, default=str, indent=2))
        return
    if isinstance(data, list):
        cols = list(columns or (data[0].keys() if data else []))
        table = Table(*cols, title=title)
        for row in data:
            table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in cols))
        console.print(table)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/bold]: {value}")
