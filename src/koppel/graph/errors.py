"""Graph-sync errors an admin reads (subclasses of ``koppel.errors``).

TenantNotFound (InvalidInput)     the tenant id or domain does not exist at Microsoft
ScopeInvalid (InvalidInput)       a scoped group is missing or not a security group
ConsentRejected (InvalidInput)    a consent callback that cannot be accepted
ConsentMissing (Forbidden)        Microsoft refuses koppel a token: no (or revoked) admin consent
GraphDenied (Forbidden)           Graph answered 401/403 to a fresh token
GraphUnavailable (UpstreamError)  Graph kept failing (throttling, 5xx, timeouts) after all retries
SyncNotAllowed (Conflict)         the connection's status does not allow this (e.g. awaiting approval)
"""

from __future__ import annotations

from koppel.errors import Conflict, Forbidden, InvalidInput, UpstreamError


class TenantNotFound(InvalidInput):
    """The tenant id or domain does not exist at Microsoft (AADSTS90002, spec §2.3)."""


class ScopeInvalid(InvalidInput):
    """A scoped group does not exist in the tenant or is not a security group."""


class ConsentRejected(InvalidInput):
    """The consent callback cannot be accepted (state replayed, expired, other tenant)."""


class ConsentMissing(Forbidden):
    """The tenant has not granted (or has revoked) admin consent to the koppel app."""


class GraphDenied(Forbidden):
    """Graph refused a fresh token (401) or the permission (403)."""


class GraphUnavailable(UpstreamError):
    """Graph kept failing (throttling, 5xx, timeouts) after all retries."""


class SyncNotAllowed(Conflict):
    """The connection is not in a status that allows this action."""
