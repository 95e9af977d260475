"""OpenID Provider metadata (OIDC Discovery 1.0 §3) parsed from its JSON, checked before use.

Entra's multi-tenant documents carry the issuer template ``https://…/{tenantid}/v2.0``
(shared/spec/entra-oidc-graph.md §2.2); ``issuer_for`` substitutes the token's ``tid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from koppel.sso.protocol.errors import DiscoveryError

TENANT_TEMPLATE = "{tenantid}"


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    token_endpoint_auth_methods: tuple[str, ...] = ("client_secret_basic",)
    signing_algs: tuple[str, ...] = ("RS256",)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_issuer_template(self) -> bool:
        return TENANT_TEMPLATE in self.issuer

    def issuer_for(self, tenant_id: str | None) -> str:
        """The exact issuer a token must carry (Entra §2.2: substitute ``tid`` in the template)."""
        if not self.is_issuer_template:
            return self.issuer
        if not tenant_id:
            raise DiscoveryError("the token has no 'tid' to check against the multi-tenant issuer")
        return self.issuer.replace(TENANT_TEMPLATE, tenant_id)


REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


def parse_metadata(doc: Any, *, source: str) -> ProviderMetadata:
    """Validate a discovery document (OIDC Discovery §3, §4.3) and return what koppel uses."""
    if not isinstance(doc, dict):
        raise DiscoveryError(f"{source} did not return a JSON object; is it an OpenID discovery URL?")
    missing = [k for k in REQUIRED if not isinstance(doc.get(k), str) or not doc[k]]
    if missing:
        raise DiscoveryError(f"{source} lacks {', '.join(missing)}; is it an OpenID discovery URL?")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not doc[key].startswith(("https://", "http://")):
            raise DiscoveryError(f"{source}: {key} {doc[key]!r} is not an http(s) URL")
    return ProviderMetadata(
        issuer=doc["issuer"],
        authorization_endpoint=doc["authorization_endpoint"],
        token_endpoint=doc["token_endpoint"],
        jwks_uri=doc["jwks_uri"],
        userinfo_endpoint=doc.get("userinfo_endpoint"),
        end_session_endpoint=doc.get("end_session_endpoint"),
        token_endpoint_auth_methods=tuple(doc.get("token_endpoint_auth_methods_supported") or ("client_secret_basic",)),
        signing_algs=tuple(doc.get("id_token_signing_alg_values_supported") or ("RS256",)),
        raw=doc,
    )


def check_issuer_matches(metadata: ProviderMetadata, discovery_url: str) -> None:
    """OIDC Discovery §4.3: the issuer must be the URL the document was fetched under."""
    if metadata.is_issuer_template:
        return  # Entra's common/organizations documents: checked per token instead (§2.2)
    expected = discovery_url.removesuffix("/.well-known/openid-configuration").rstrip("/")
    if metadata.issuer.rstrip("/") != expected:
        raise DiscoveryError(
            f"the discovery document at {discovery_url} names issuer {metadata.issuer!r}; "
            "they must match (OIDC Discovery §4.3): check the URL"
        )
