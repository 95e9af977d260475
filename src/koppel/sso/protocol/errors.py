"""Protocol errors, each with the ``reason`` recorded in ``sso.login.failed`` events.

KoppelError
└── InvalidInput
    ├── DiscoveryError          an IdP's metadata is unusable (admin fixes the URL)
    └── TokenValidationError    an ID/access token failed a check (reason says which)
"""

from __future__ import annotations

from koppel.errors import InvalidInput, Unauthorized


class DiscoveryError(InvalidInput):
    code = "oidc-discovery"
    title = "Unusable identity provider metadata"
    reason = "discovery"


class TokenValidationError(Unauthorized):
    """A token failed validation; ``reason`` is a short machine word (``iss``, ``aud``, ``exp``...)."""

    code = "invalid-token"
    title = "Invalid token"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
