"""SSO errors. A login failure carries a short ``reason`` for the ``sso.login.failed`` event.

KoppelError
└── Forbidden
    └── LoginFailed             the user cannot sign in; reason: state | tenant | domain |
                                not_in_directory | deactivated | no_role | token | ...
"""

from __future__ import annotations

from koppel.errors import Forbidden

# Refusals by the access policy (or by the user at the IdP): the host app hears of them as an OIDC
# ``access_denied`` redirect (RFC 6749 §4.1.2.1). Anything else (forged or replayed state, a token
# that fails validation) stays on koppel's error page: the request may not be the app's at all.
ACCESS_REFUSALS = frozenset({"tenant", "domain", "not_in_directory", "deactivated", "no_role", "idp_error"})


class LoginFailed(Forbidden):
    code = "sso-login-failed"
    title = "Sign-in failed"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason

    @property
    def refused(self) -> bool:
        return self.reason in ACCESS_REFUSALS
