"""Graph-sync errors an admin reads (subclasses of ``koppel.errors``)."""

from __future__ import annotations

from koppel.errors import Conflict, Forbidden, InvalidInput, UpstreamError


class TenantNotFound(InvalidInput):
    """The tenant id or domain does not exist at Microsoft (AADSTS90002, spec §2.3)."""


class ConsentMissing(Forbidden):
    """The tenant has not granted (or revoked) admin consent to the koppel app."""


class GraphUnavailable(UpstreamError):
    """Graph kept failing (throttling, 5xx, timeouts) after all retries."""


class SyncRunning(Conflict):
    """Another sync of the same connection holds the lease."""


class ConsentRejected(InvalidInput):
    """The consent callback cannot be accepted (state replayed, expired, other tenant)."""
