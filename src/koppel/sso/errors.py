"""SSO errors. A login failure carries a short ``reason`` for the ``sso.login.failed`` event.

KoppelError
└── Forbidden
    └── LoginFailed             the user cannot sign in; reason: state | tenant | domain |
                                not_in_directory | deactivated | no_role | token | ...
"""

from __future__ import annotations

from koppel.errors import Forbidden


class LoginFailed(Forbidden):
    code = "sso-login-failed"
    title = "Sign-in failed"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason
