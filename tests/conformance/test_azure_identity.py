"""azure-identity credentials against the simulator, with only the authority changed (issue 3 §5; spec §9.6)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential

from tests.simulator.support import TENANT_ID, WEB_APP_ID, WEB_SECRET, ClientCertificate, SimulatorHandle

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_client_secret_credential(simulator: SimulatorHandle) -> None:
    credential = ClientSecretCredential(
        TENANT_ID, WEB_APP_ID, WEB_SECRET, authority=simulator.url, disable_instance_discovery=True
    )
    token = credential.get_token(GRAPH_DEFAULT)
    assert token.expires_on > time.time() + 3000
    claims = _claims(token.token)
    assert claims["appid"] == WEB_APP_ID
    assert "GroupMember.Read.All" in claims["roles"]


def test_client_secret_credential_with_cae_as_kiota_asks(simulator: SimulatorHandle) -> None:
    """kiota always asks with enable_cae=True, which adds a ``claims`` parameter the simulator must accept."""
    credential = ClientSecretCredential(
        TENANT_ID, WEB_APP_ID, WEB_SECRET, authority=simulator.url, disable_instance_discovery=True
    )
    assert credential.get_token(GRAPH_DEFAULT, enable_cae=True).token


def test_certificate_credential(
    simulator: SimulatorHandle, client_certificate: ClientCertificate, tmp_path: Path
) -> None:
    path = client_certificate.write(tmp_path / "client.pem")
    credential = CertificateCredential(
        TENANT_ID, WEB_APP_ID, certificate_path=str(path), authority=simulator.url, disable_instance_discovery=True
    )
    claims = _claims(credential.get_token(GRAPH_DEFAULT).token)
    assert claims["appidacr"] == "2"
    assert claims["tid"] == TENANT_ID


def test_async_credentials_use_ssl_cert_file(
    simulator: SimulatorHandle, client_certificate: ClientCertificate, tmp_path: Path
) -> None:
    """The async credentials post straight to the token endpoint over aiohttp (PS256, padded JWT segments)."""
    from azure.identity.aio import CertificateCredential as AsyncCertificateCredential
    from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

    path = client_certificate.write(tmp_path / "client.pem")

    async def tokens() -> list[str]:
        secret = AsyncClientSecretCredential(TENANT_ID, WEB_APP_ID, WEB_SECRET, authority=simulator.url)
        cert = AsyncCertificateCredential(TENANT_ID, WEB_APP_ID, certificate_path=str(path), authority=simulator.url)
        async with secret, cert:
            return [(await secret.get_token(GRAPH_DEFAULT)).token, (await cert.get_token(GRAPH_DEFAULT)).token]

    secret_token, cert_token = asyncio.run(tokens())
    assert _claims(secret_token)["appidacr"] == "1"
    assert _claims(cert_token)["appidacr"] == "2"


def test_wrong_secret_raises_with_the_aadsts_code(simulator: SimulatorHandle) -> None:
    credential = ClientSecretCredential(
        TENANT_ID, WEB_APP_ID, "wrong", authority=simulator.url, disable_instance_discovery=True
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token(GRAPH_DEFAULT)
