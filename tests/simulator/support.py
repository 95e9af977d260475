"""Test helpers shared by tests/simulator and tests/conformance: a sample seed, a client certificate, a server."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from entra_simulator.app import create_app
from entra_simulator.keys import KeySet
from entra_simulator.seed import load
from entra_simulator.server import RunningServer, TlsFiles
from entra_simulator.state import Settings, Simulator

TENANT_ID = "8f6c2a3e-0d51-4d8e-9a3b-1c2d3e4f5a6b"
DOMAIN = "contoso-nl.onmicrosoft.com"
VERIFIED_DOMAIN = "contoso.nl"
OTHER_TENANT_ID = "2b7f9c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e"
WEB_APP_ID = "11111111-2222-4333-8444-555555555555"
WEB_SECRET = "Wq8~simulator.secret_value-for-tests0001"
OLD_SECRET = "Ab1~expired.secret_value-for-tests00002"
API_APP_ID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
API_SECRET = "Zx9~api.secret_value-for-tests000000003"
API_URI = "api://contoso-api"
NOCONSENT_APP_ID = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
NOCONSENT_SECRET = "Nc7~noconsent.secret_value-for-tests004"
REDIRECT_URI = "http://localhost/callback"
PASSWORD = "Welkom-2026!"
ADMIN_UPN = f"anna.admin@{DOMAIN}"
USER_UPN = f"jan.devries@{VERIFIED_DOMAIN}"
BIG_GROUP = "Alle medewerkers"


@dataclass(frozen=True)
class ClientCertificate:
    key_pem: str
    cert_pem: str
    sha1_hex: str

    def write(self, path: Path) -> Path:
        """Private key and certificate in one PEM file, as azure-identity's CertificateCredential reads it."""
        path.write_text(self.key_pem + self.cert_pem, encoding="utf-8")
        return path


def make_client_certificate(name: str = "koppel-test-client") -> ClientCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    der = cert.public_bytes(serialization.Encoding.DER)
    return ClientCertificate(key_pem, cert_pem, hashlib.sha1(der).hexdigest())


def sample_seed(certificate: ClientCertificate, *, big_group_members: int = 0) -> dict[str, Any]:
    """Two tenants; the first has an admin, members, a guest, nested and synced groups, three apps."""
    users: list[dict[str, Any]] = [
        {
            "userPrincipalName": ADMIN_UPN,
            "givenName": "Anna",
            "surname": "Admin",
            "mail": ADMIN_UPN,
            "password": PASSWORD,
            "directoryRoles": ["Global Administrator"],
        },
        {
            "userPrincipalName": USER_UPN,
            "givenName": "Jan",
            "surname": "de Vries",
            "mail": USER_UPN,
            "jobTitle": "Accountmanager",
            "department": "Verkoop",
            "password": PASSWORD,
        },
        {
            "userPrincipalName": f"piet.disabled@{VERIFIED_DOMAIN}",
            "givenName": "Piet",
            "surname": "Uit",
            "password": PASSWORD,
            "accountEnabled": False,
        },
        {
            "userType": "Guest",
            "mail": "sam@fabrikam.example",
            "givenName": "Sam",
            "surname": "Guest",
            "password": PASSWORD,
        },
    ]
    users += [
        {"userPrincipalName": f"medewerker{i:05d}@{VERIFIED_DOMAIN}", "givenName": "Medewerker", "surname": f"{i:05d}"}
        for i in range(big_group_members)
    ]
    groups: list[dict[str, Any]] = [
        {"displayName": "Verkoop", "members": [USER_UPN]},
        {"displayName": "Alle verkoop", "members": ["Verkoop", ADMIN_UPN]},
        {"displayName": "Finance", "onPremisesSamAccountName": "FIN-ALL", "members": [USER_UPN]},
        {"displayName": "Marketing Team", "groupTypes": ["Unified"], "members": [USER_UPN, "sam@fabrikam.example"]},
    ]
    if big_group_members:
        groups.append(
            {"displayName": BIG_GROUP, "members": [u["userPrincipalName"] for u in users[4:]]},
        )
    web_app = {
        "appId": WEB_APP_ID,
        "displayName": "koppel (tests)",
        "signInAudience": "AzureADMultipleOrgs",
        "secrets": [
            {"value": WEB_SECRET, "displayName": "current"},
            {"value": OLD_SECRET, "displayName": "old", "endDateTime": "2024-01-01T00:00:00Z"},
        ],
        "certificates": [{"pem": certificate.cert_pem}],
        "redirectUris": [REDIRECT_URI, "https://app.example/callback"],
        "graphPermissions": {
            "application": ["User.Read.All", "GroupMember.Read.All"],
            "delegated": ["User.Read", "openid", "profile", "offline_access", "email"],
        },
        "apiPermissions": [{"resource": API_APP_ID, "delegated": ["access_as_user"]}],
        "groupMembershipClaims": "SecurityGroup",
        "adminConsent": True,
    }
    api_app = {
        "appId": API_APP_ID,
        "displayName": "Contoso API",
        "identifierUris": [API_URI],
        "secrets": [{"value": API_SECRET}],
        "redirectUris": ["https://api.example/callback"],
        "api": {"oauth2PermissionScopes": [{"value": "access_as_user"}]},
        "graphPermissions": {"delegated": ["User.Read"]},
        "groupMembershipClaims": "All",
        "adminConsent": True,
    }
    noconsent_app = {
        "appId": NOCONSENT_APP_ID,
        "displayName": "Needs consent",
        "secrets": [{"value": NOCONSENT_SECRET}],
        "redirectUris": [REDIRECT_URI],
        "graphPermissions": {"application": ["User.Read.All"], "delegated": ["User.Read"]},
    }
    return {
        "tenants": [
            {
                "id": TENANT_ID,
                "displayName": "Contoso Nederland",
                "domains": [DOMAIN, VERIFIED_DOMAIN],
                "users": users,
                "groups": groups,
                "applications": [api_app, web_app, noconsent_app],
            },
            {
                "id": OTHER_TENANT_ID,
                "displayName": "Fabrikam",
                "domains": ["fabrikam-sim.onmicrosoft.com"],
                "users": [
                    {
                        "userPrincipalName": "olga@fabrikam-sim.onmicrosoft.com",
                        "givenName": "Olga",
                        "password": PASSWORD,
                    }
                ],
            },
        ]
    }


@dataclass
class SimulatorHandle:
    """A running simulator: its URL, the in-process state (for assertions) and the TLS CA bundle."""

    url: str
    sim: Simulator
    ca_bundle: Path | None
    server: RunningServer = field(repr=False)

    def authority(self, tenant: str = TENANT_ID) -> str:
        return f"{self.url}/{tenant}"

    def http(self, **kwargs: Any) -> httpx.Client:
        verify: Any = str(self.ca_bundle) if self.ca_bundle else True
        return httpx.Client(base_url=self.url, verify=verify, timeout=30, **kwargs)


def new_simulator(seed: dict[str, Any], settings: Settings | None = None, keys: KeySet | None = None) -> Simulator:
    return Simulator(directory=load(seed), settings=settings or Settings(), keys=keys or KeySet())


@contextmanager
def running(sim: Simulator, tls: TlsFiles | None = None) -> Iterator[SimulatorHandle]:
    server = RunningServer(create_app(sim), "127.0.0.1", 0, tls).start()
    try:
        yield SimulatorHandle(server.url, sim, tls.ca_bundle if tls else None, server)
    finally:
        server.stop()
