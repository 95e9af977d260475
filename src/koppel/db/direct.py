"""Hot statements run on the driver's cursor: compiled once by SQLAlchemy, executed without its per-call machinery.

SQLAlchemy Core spends 70 to 90 µs per execution on this machine (execution context, parameter and result
objects) around a ~20 µs psycopg call (bench/scim/README.md). A SCIM request runs three to five
statements, so that overhead was most of koppel's own cost per request. ``Direct`` keeps what
SQLAlchemy does well — the SQL for each dialect, bind casts, and the column types' bind and result
processors (JSON, timestamps on SQLite) — and only replaces the per-call wrapping, so values read and
written are the same as through ``Connection.execute``. It runs inside the caller's Connection and
transaction, fires ``before_cursor_execute`` listeners, and raises SQLAlchemy's exception classes.

Only plain statements: no expanding IN lists, one row per call (``many`` for executemany).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any] | None
MAX_VARIANTS = 256  # compiled forms kept per statement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind names in placeholder order
    positional: bool
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # names whose values need converting
    results: tuple[Processor, ...]
    fixed: tuple[tuple[str, Any], ...]  # bind parameters that carry their value in the statement

    def params(self, values: Mapping[str, Any]) -> Any:
        if self.binds or self.fixed:
            values = {**dict(self.fixed), **values}
            for name, process in self.binds:
                values[name] = process(values[name])
        if self.positional:
            return tuple(values[n] for n in self.names)
        return values


class Direct:
    """One statement, compiled per dialect and set of parameter names on first use."""

    def __init__(self, statement: Executable, *, prepare: bool | None = None) -> None:
        self.statement = statement
        # psycopg: None prepares after a few runs (its default); False never (planned with the values).
        self.prepare = prepare
        # Shared by threads: a race at worst compiles a form twice (dict writes are atomic).
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled] = {}

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The result rows as tuples, in the statement's column order."""
        compiled = self._for(conn.dialect, params)
        cursor = self._execute(conn, compiled, compiled.params(params), many=False)
        try:
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        if not any(compiled.results):
            return fetched  # type: ignore[no-any-return]
        procs = compiled.results
        return [tuple(v if p is None else p(v) for p, v in zip(procs, row, strict=True)) for row in fetched]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute; the number of rows it affected."""
        compiled = self._for(conn.dialect, params)
        cursor = self._execute(conn, compiled, compiled.params(params), many=False)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """executemany: every row has the same keys."""
        if not rows:
            return
        compiled = self._for(conn.dialect, rows[0])
        self._execute(conn, compiled, [compiled.params(r) for r in rows], many=True).close()

    def _execute(self, conn: Connection, compiled: _Compiled, params: Any, *, many: bool) -> Any:
        dbapi_conn = conn.connection.driver_connection
        assert dbapi_conn is not None
        cursor = dbapi_conn.cursor()
        for listener in conn.dispatch.before_cursor_execute:
            listener(conn, cursor, compiled.sql, params, None, many)
        try:
            if many:
                cursor.executemany(compiled.sql, params)
            elif self.prepare is not None and conn.dialect.driver == "psycopg":
                cursor.execute(compiled.sql, params, prepare=self.prepare)
            else:
                cursor.execute(compiled.sql, params)
        except conn.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            disconnected = conn.dialect.is_disconnect(exc, dbapi_conn, cursor)
            if disconnected:
                conn.invalidate(exc)  # the pool opens a fresh connection next time
            raise DBAPIError.instance(
                compiled.sql,
                params,
                exc,
                conn.dialect.loaded_dbapi.Error,
                connection_invalidated=disconnected,
                dialect=conn.dialect,
            ) from exc
        return cursor

    def _for(self, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        key = (dialect.name, frozenset(params))
        found = self._compiled.get(key)
        if found is None:
            if len(self._compiled) >= MAX_VARIANTS:  # e.g. UPDATEs whose SET columns vary: stay bounded
                self._compiled.clear()
            found = self._compiled[key] = _compile(self.statement, dialect, sorted(params))
        return found


def _compile(statement: Executable, dialect: Dialect, keys: list[str]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=keys)  # type: ignore[attr-defined]
    if any(b.expanding for b in compiled.binds.values()):
        raise ValueError("Direct runs plain statements only; expanding IN lists go through Connection.execute")
    prefetch = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
    if prefetch:  # Python-side column defaults run in SQLAlchemy's execution context, which Direct skips
        raise ValueError(f"pass a value for {', '.join(prefetch)}: Direct does not compute column defaults")
    binds, fixed = [], []
    for name, bind in compiled.binds.items():
        if name not in keys and not bind.required:
            fixed.append((name, bind.effective_value))
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((name, process))
    columns = getattr(statement, "exported_columns", ())
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    positional = compiled.positiontup is not None
    return _Compiled(
        sql=compiled.string,
        names=tuple(compiled.positiontup or compiled.binds),
        positional=positional,
        binds=tuple(binds),
        results=results,
        fixed=tuple(fixed),
    )
