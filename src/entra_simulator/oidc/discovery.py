"""Discovery documents (spec §2.1, §2.2) with the simulator's origin in place of login.microsoftonline.com."""

from __future__ import annotations

from typing import Any

SPECIAL_TENANTS = ("common", "organizations", "consumers")
MSA_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


def v2_configuration(origin: str, segment: str, tid: str | None) -> dict[str, Any]:
    """``segment`` keeps the literal word for common/organizations; ``tid`` is None there (template issuer)."""
    base = f"{origin}/{tid or segment}"
    issuer = f"{origin}/{tid}/v2.0" if tid else f"{origin}/{{tenantid}}/v2.0"
    if segment == "consumers":
        issuer = f"{origin}/{MSA_TENANT}/v2.0"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{origin}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": origin.split("://", 1)[-1],
        "rbac_url": "https://pas.windows.net",
    }


def v1_configuration(origin: str, segment: str, tid: str | None) -> dict[str, Any]:
    """v1 metadata: issuer ``https://sts.windows.net/{tid}/`` (spec §1, §7.3)."""
    base = f"{origin}/{tid or segment}"
    return {
        "token_endpoint": f"{base}/oauth2/token",
        "jwks_uri": f"{base}/discovery/keys",
        "issuer": f"https://sts.windows.net/{tid or '{tenantid}'}/",
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "end_session_endpoint": f"{base}/oauth2/logout",
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "subject_types_supported": ["pairwise"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
    }
