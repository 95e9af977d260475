"""SCIM tokens, per-organization SCIM configuration, the provisioning log, and request context.

Tokens are stored as SHA-256 hashes (``koppel.security.tokens``). Authenticating a request costs
no query while the token is in the small in-process cache (``TOKEN_CACHE_SECONDS``); revoking or
rotating clears this process's cache at once, other processes see it within that time.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from koppel.db.direct import Direct
from koppel.errors import InvalidInput, NotFound
from koppel.organizations.models import Connection, Organization
from koppel.organizations.service import get_organization
from koppel.scim.errors import unauthorized
from koppel.scim.models import DEFAULT_LOG_MAX_ENTRIES, DEFAULT_LOG_RETENTION_DAYS, ScimConfig, ScimLogEntry, ScimToken
from koppel.scim.protocol.schemas import MUTABILITIES, SIMPLE_TYPES, USER, ResourceDef, custom_extension
from koppel.security.tokens import generate_token, hash_token

TOKEN_PREFIX = "kp_scim"
TOKEN_CACHE_SECONDS = 30.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
PRUNE_EVERY = 1000  # log inserts per process between two retention passes
DEFAULT_ROTATION_GRACE = timedelta(days=7)
_URN = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[\w.:%-]+$")
_ATTR_NAME = re.compile(r"^[A-Za-z][\w-]*$")


# -- organizations and the scim connection ----------------------------------------------------
def ensure_connection(*, session: Session, org: Organization, now: datetime) -> Connection:
    """The organization's ``scim`` connection, created on first use (SCIM writes land there)."""
    conn = session.scalar(
        select(Connection).where(Connection.org_id == org.id, Connection.kind == "scim").order_by(Connection.created_at)
    )
    if conn is None:
        conn = Connection(org_id=org.id, kind="scim", name="SCIM provisioning", created_at=now, updated_at=now)
        session.add(conn)
        session.flush()
    return conn


def tenant_url(base_url: str, org: Organization) -> str:
    return f"{base_url.rstrip('/')}/scim/v2/{org.slug}"


# -- tokens ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewToken:
    token: ScimToken
    secret: str


def create_token(*, session: Session, org: str, expires_in: timedelta | None, now: datetime) -> NewToken:
    organization = get_organization(session=session, ref=org)
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput("--expires-in must be positive, e.g. 365d", field="expires_in")
    conn = ensure_connection(session=session, org=organization, now=now)
    secret = generate_token(TOKEN_PREFIX)
    token = ScimToken(
        org_id=organization.id,
        connection_id=conn.id,
        prefix=secret[: len(TOKEN_PREFIX) + 5],
        token_hash=hash_token(secret),
        created_at=now,
        expires_at=now + expires_in if expires_in else None,
    )
    session.add(token)
    session.flush()
    return NewToken(token, secret)


def list_tokens(*, session: Session, org: str) -> list[ScimToken]:
    organization = get_organization(session=session, ref=org)
    return list(
        session.scalars(select(ScimToken).where(ScimToken.org_id == organization.id).order_by(ScimToken.created_at))
    )


def _token(session: Session, org_id: str, token_id: str) -> ScimToken:
    token = session.scalar(select(ScimToken).where(ScimToken.org_id == org_id, ScimToken.id == token_id))
    if token is None:
        raise NotFound(f"no SCIM token {token_id!r} in this organization (see 'koppel scim token list')")
    return token


def revoke_token(*, session: Session, org: str, token_id: str, now: datetime) -> ScimToken:
    organization = get_organization(session=session, ref=org)
    token = _token(session, organization.id, token_id)
    if token.revoked_at is None:
        token.revoked_at = now
    TOKENS.clear()
    return token


def rotate_token(
    *, session: Session, org: str, token_id: str | None, grace: timedelta, now: datetime
) -> tuple[NewToken, list[ScimToken]]:
    """A new token; the old one (or every active one) stays valid for ``grace`` so Entra never sees a gap."""
    organization = get_organization(session=session, ref=org)
    olds = (
        [_token(session, organization.id, token_id)]
        if token_id
        else [t for t in list_tokens(session=session, org=organization.id) if _active(t, now)]
    )
    new = create_token(session=session, org=organization.id, expires_in=None, now=now)
    for old in olds:
        until = now + grace
        if old.expires_at is None or old.expires_at > until:
            old.expires_at = until
    TOKENS.clear()
    return new, olds


def _active(token: ScimToken, now: datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


# -- configuration ---------------------------------------------------------------------------
def get_config(*, session: Session, org_id: str) -> ScimConfig:
    config = session.get(ScimConfig, org_id)
    if config is None:
        config = ScimConfig(
            org_id=org_id,
            extension_urn=None,
            extension_attributes=[],
            log_retention_days=DEFAULT_LOG_RETENTION_DAYS,
            log_max_entries=DEFAULT_LOG_MAX_ENTRIES,
        )
    return config


def set_config(
    *,
    session: Session,
    org: str,
    now: datetime,
    extension_urn: str | None = None,
    extension_attributes: list[dict[str, Any]] | None = None,
    log_retention_days: int | None = None,
    log_max_entries: int | None = None,
) -> ScimConfig:
    """Set the custom User extension and/or log retention. An empty ``extension_urn`` removes the extension."""
    organization = get_organization(session=session, ref=org)
    config = session.get(ScimConfig, organization.id) or get_config(session=session, org_id=organization.id)
    if extension_urn is not None:
        if extension_urn == "":
            config.extension_urn, config.extension_attributes = None, []
        else:
            if not _URN.match(extension_urn) or extension_urn.lower().startswith("urn:ietf:params:scim:schemas:core"):
                raise InvalidInput(
                    f"{extension_urn!r} is not a custom extension URN; use one like "
                    "urn:ietf:params:scim:schemas:extension:8x8:1.1:User",
                    field="extension_urn",
                )
            config.extension_urn = extension_urn
            config.extension_attributes = _validated_attributes(extension_attributes or [])
    if log_retention_days is not None:
        if log_retention_days < 1:
            raise InvalidInput("log retention must be at least 1 day", field="log_retention_days")
        config.log_retention_days = log_retention_days
    if log_max_entries is not None:
        if log_max_entries < 100:
            raise InvalidInput("keep at least 100 log entries", field="log_max_entries")
        config.log_max_entries = log_max_entries
    config.updated_at = now
    session.add(config)
    session.flush()
    CONFIGS.clear()
    return config


def _validated_attributes(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for a in attributes:
        name, kind, mut = a.get("name"), a.get("type", "string"), a.get("mutability", "readWrite")
        if not isinstance(name, str) or not _ATTR_NAME.match(name):
            raise InvalidInput(f"extension attribute name {name!r} must be letters, digits, '-' or '_'", field="name")
        if kind not in SIMPLE_TYPES:
            raise InvalidInput(f"{name}: type must be one of {', '.join(SIMPLE_TYPES)}", field="type")
        if mut not in MUTABILITIES:
            raise InvalidInput(f"{name}: mutability must be one of {', '.join(MUTABILITIES)}", field="mutability")
        out.append({"name": name, "type": kind, "mutability": mut, "caseExact": bool(a.get("caseExact", False))})
    return out


def user_def_for(config: ScimConfig) -> ResourceDef:
    if not config.extension_urn:
        return USER
    return USER.with_extension(custom_extension(config.extension_urn, config.extension_attributes))


# -- request context (authentication) --------------------------------------------------------
@dataclass(frozen=True)
class ScimContext:
    org_id: str
    org_slug: str
    connection_id: str
    token_id: str
    user_def: ResourceDef
    base: str  # the tenant URL, for meta.location and $ref


@dataclass(frozen=True)
class _CachedToken:
    token_id: str
    org_id: str
    org_slug: str
    connection_id: str
    expires_at: datetime | None
    revoked: bool


class _TtlCache:
    """A small thread-safe dict with per-entry age; enough for a few thousand tokens."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self.items: dict[str, tuple[float, Any]] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        hit = self.items.get(key)
        if hit is None or time.monotonic() - hit[0] > self.ttl:
            return None
        return hit[1]

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            if len(self.items) >= self.max_entries:
                self.items.clear()
            self.items[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


TOKENS = _TtlCache(TOKEN_CACHE_SECONDS)
CONFIGS = _TtlCache(TOKEN_CACHE_SECONDS)


def authenticate(*, session: Session, bearer: str, org_ref: str, base_url: str, now: datetime) -> ScimContext:
    """The context for a request with ``Authorization: Bearer <bearer>`` on ``/scim/v2/{org_ref}``."""
    refused = unauthorized(
        "the Secret Token is unknown, revoked or expired for this Tenant URL; create one with "
        "'koppel scim token create --org <org>' and paste it into Entra's provisioning tab"
    )
    if not bearer:
        raise refused
    key = hash_token(bearer)
    cached: _CachedToken | None = TOKENS.get(key)
    if cached is None:
        row = session.execute(
            select(ScimToken, Organization.slug)
            .join(Organization, Organization.id == ScimToken.org_id)
            .where(ScimToken.token_hash == key)
        ).first()
        if row is None:
            raise refused
        token, slug = row
        cached = _CachedToken(
            token.id, token.org_id, slug, token.connection_id, token.expires_at, token.revoked_at is not None
        )
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            session.execute(update(ScimToken).where(ScimToken.id == token.id).values(last_used_at=now))
        TOKENS.put(key, cached)
    if cached.revoked or (cached.expires_at is not None and cached.expires_at <= now):
        raise refused
    if org_ref != cached.org_slug and org_ref != cached.org_id:
        raise refused  # a token of another organization: never reveal whether org_ref exists
    user_def: ResourceDef | None = CONFIGS.get(cached.org_id)
    if user_def is None:
        user_def = user_def_for(get_config(session=session, org_id=cached.org_id))
        CONFIGS.put(cached.org_id, user_def)
    base = f"{base_url.rstrip('/')}/scim/v2/{cached.org_slug}"
    return ScimContext(cached.org_id, cached.org_slug, cached.connection_id, cached.token_id, user_def, base)


# -- provisioning log ------------------------------------------------------------------------
_log_counter = 0
# Run on the driver's cursor (koppel.db.direct): one of these per SCIM request.
_LOG_INSERT = Direct(insert(ScimLogEntry.__table__))  # type: ignore[arg-type]
_LOG_COLS = ("org_id", "at", "method", "operation", "resource_type", "resource_id", "status", "scim_type", "detail")
# The setting is local to the transaction, and an autocommit statement is its own transaction.
_NO_FLUSH_WAIT = select(func.set_config("synchronous_commit", "off", true())).subquery("c")
_LOG_INSERT_NO_FLUSH_WAIT = Direct(
    insert(ScimLogEntry.__table__).from_select(  # type: ignore[arg-type]
        list(_LOG_COLS),
        select(*(bindparam(c, type_=ScimLogEntry.__table__.c[c].type) for c in _LOG_COLS)).select_from(_NO_FLUSH_WAIT),
    )
)
# PostgreSQL, the entries of a batch of requests (koppel.scim.handler.handle_batch) in one statement,
# as one JSON array (see koppel.events.log for why JSON rather than a multi-row VALUES list).
_LOG_RECORDSET = (
    "INSERT INTO scim_log (org_id, at, method, operation, resource_type, resource_id, status, scim_type, detail) "
    "SELECT e.org_id, e.at, e.method, e.operation, e.resource_type, e.resource_id, e.status, e.scim_type, e.detail "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS e(org_id varchar, at timestamptz, method varchar, "
    "operation varchar, resource_type varchar, resource_id varchar, status integer, scim_type varchar, detail text)"
)
_LOG_INSERT_MANY = Direct(text(_LOG_RECORDSET).bindparams(bindparam("rows", type_=JSONB())))
_LOG_INSERT_MANY_NO_FLUSH_WAIT = Direct(
    text(_LOG_RECORDSET + " CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS c").bindparams(
        bindparam("rows", type_=JSONB())
    )
)
_log_lock = threading.Lock()


@dataclass(frozen=True)
class LogRecord:
    method: str
    operation: str
    resource_type: str | None
    resource_id: str | None
    status: int
    scim_type: str | None = None
    detail: str | None = None


def record(*, session: Session, org_id: str, entry: LogRecord, now: datetime, wait_for_disk: bool = True) -> None:
    """One INSERT per SCIM request; every ``PRUNE_EVERY`` inserts the retention pass runs for that org.

    ``wait_for_disk=False`` (the entry of a read, written on its own by ``statement_autocommit``): on
    PostgreSQL that one commit does not wait for the WAL flush (``synchronous_commit`` off for that
    transaction only). A crash within the next ~0.6 s can lose such entries; never a directory change.
    """
    record_many(session=session, entries=[(org_id, entry, now)], wait_for_disk=wait_for_disk)


def record_many(
    *, session: Session, entries: Sequence[tuple[str, LogRecord, datetime]], wait_for_disk: bool = True
) -> None:
    """``record`` for several entries (org_id, entry, time): on PostgreSQL one statement for all of them."""
    global _log_counter
    conn = session.connection()
    rows = [_log_row(org_id, entry, at) for org_id, entry, at in entries]
    async_ok = not wait_for_disk and conn.dialect.name == "postgresql"
    if len(rows) == 1:
        (_LOG_INSERT_NO_FLUSH_WAIT if async_ok else _LOG_INSERT).run(conn, rows[0])
    elif conn.dialect.name == "postgresql":
        (_LOG_INSERT_MANY_NO_FLUSH_WAIT if async_ok else _LOG_INSERT_MANY).run(conn, {"rows": rows})
    elif rows:
        _LOG_INSERT.many(conn, rows)
    due: set[str] = set()
    with _log_lock:
        for org_id, _, _ in entries:
            _log_counter += 1
            if _log_counter % PRUNE_EVERY == 0:
                due.add(org_id)
    for org_id in due:
        prune_log(session=session, org_id=org_id, now=entries[-1][2])


def _log_row(org_id: str, entry: LogRecord, at: datetime) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "at": at,
        "method": entry.method,
        "operation": _storable(entry.operation, 40),
        "resource_type": _storable(entry.resource_type, 32),
        "resource_id": _storable(entry.resource_id, 255),
        "status": entry.status,
        "scim_type": entry.scim_type,
        "detail": _storable(entry.detail, 2000),
    }


def _storable(text: str | None, limit: int) -> str | None:
    """What the request put in the entry (an id from the path, an error quoting the input), as a column holds it.

    PostgreSQL refuses NUL characters and values longer than the column: an entry must never fail for that.
    """
    if not text:
        return text
    return text.replace("\x00", "\\u0000")[:limit]


def prune_log(*, session: Session, org_id: str, now: datetime) -> int:
    """Apply the organization's retention: entries older than N days, and beyond the newest M."""
    config = get_config(session=session, org_id=org_id)
    cutoff = now - timedelta(days=config.log_retention_days)
    removed = session.execute(delete(ScimLogEntry).where(ScimLogEntry.org_id == org_id, ScimLogEntry.at < cutoff))
    count = int(getattr(removed, "rowcount", 0) or 0)
    boundary = session.scalar(
        select(ScimLogEntry.id)
        .where(ScimLogEntry.org_id == org_id)
        .order_by(ScimLogEntry.id.desc())
        .offset(config.log_max_entries)
        .limit(1)
    )
    if boundary is not None:
        removed = session.execute(
            delete(ScimLogEntry).where(ScimLogEntry.org_id == org_id, ScimLogEntry.id <= boundary)
        )
        count += int(getattr(removed, "rowcount", 0) or 0)
    return count


def read_log(
    *, session: Session, org: str, limit: int = 100, before_id: int | None = None, errors_only: bool = False
) -> list[ScimLogEntry]:
    organization = get_organization(session=session, ref=org)
    q = select(ScimLogEntry).where(ScimLogEntry.org_id == organization.id)
    if before_id is not None:
        q = q.where(ScimLogEntry.id < before_id)
    if errors_only:
        q = q.where(ScimLogEntry.status >= 400)
    return list(session.scalars(q.order_by(ScimLogEntry.id.desc()).limit(max(1, min(limit, 1000)))))


def log_out(entry: ScimLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "method": entry.method,
        "operation": entry.operation,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "status": entry.status,
        "scim_type": entry.scim_type,
        "detail": entry.detail,
    }


def token_out(token: ScimToken, now: datetime) -> dict[str, Any]:
    return {
        "id": token.id,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
        "active": _active(token, now),
    }
