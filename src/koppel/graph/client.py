"""Graph over HTTP: app-only tokens from msal, retries, paging (spec §4, §8, §9).

The ``httpx.Client`` is injected (tests point it at the simulator on loopback); msal gets the
same client and its authority from settings. One msal ``ConfidentialClientApplication`` per
tenant authority, kept for the process: msal's in-memory token cache lives in that object,
so tokens are reused until they expire.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msal

from koppel.graph.errors import ConsentMissing, GraphUnavailable, TenantNotFound
from koppel.graph.protocol import errors as wire
from koppel.graph.protocol.paging import Page, parse_page
from koppel.graph.protocol.retry import RetryPolicy
from koppel.graph.protocol.tenant import discovery_url, tenant_from_discovery
from koppel.settings import Settings

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
_APPS: dict[tuple[str, str, int], msal.ConfidentialClientApplication] = {}
_APPS_LOCK = threading.Lock()


def _credential(settings: Settings) -> Any:
    if settings.entra_client_certificate:
        from cryptography import x509

        pem = Path(settings.entra_client_certificate).read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
        thumbprint = hashlib.sha1(cert.public_bytes(encoding=_der())).hexdigest()  # noqa: S324 (x5t is SHA-1)
        return {"private_key": pem.decode(), "thumbprint": thumbprint}
    if settings.entra_client_secret is None:
        raise ConsentMissing("koppel has no Entra app credential: set KOPPEL_ENTRA_CLIENT_SECRET or _CERTIFICATE")
    return settings.entra_client_secret.get_secret_value()


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def msal_app(settings: Settings, tenant_id: str, http: httpx.Client) -> msal.ConfidentialClientApplication:
    """The cached msal app for ``{authority}/{tenant}`` (spec §9.2: no instance discovery off Microsoft)."""
    authority = f"{settings.entra_authority}/{tenant_id}"
    key = (authority, settings.entra_client_id, id(http))
    with _APPS_LOCK:
        if key not in _APPS:
            _APPS[key] = msal.ConfidentialClientApplication(
                settings.entra_client_id,
                client_credential=_credential(settings),
                authority=authority,
                http_client=http,
                instance_discovery=settings.entra_authority == "https://login.microsoftonline.com",
            )
        return _APPS[key]


def forget_tokens(settings: Settings, tenant_id: str, http: httpx.Client) -> None:
    """Drop the cached app so the next call fetches a fresh token (after a 401 from Graph)."""
    with _APPS_LOCK:
        _APPS.pop((f"{settings.entra_authority}/{tenant_id}", settings.entra_client_id, id(http)), None)


def resolve_tenant(*, settings: Settings, http: httpx.Client, tenant: str) -> str:
    """The tenant GUID for a GUID or domain, checked through discovery (spec §2.1, §2.3)."""
    try:
        response = http.get(discovery_url(settings.entra_authority, tenant))
    except httpx.HTTPError as exc:
        raise GraphUnavailable(f"cannot reach {settings.entra_authority} to look up the tenant: {exc}") from exc
    if response.status_code == 400:
        raise TenantNotFound(f"Microsoft does not know the tenant {tenant!r}; check the Tenant ID", field="tenant_id")
    if response.status_code != 200:
        raise GraphUnavailable(f"tenant discovery answered HTTP {response.status_code}; try again later")
    guid = tenant_from_discovery(response.json())
    if guid is None:
        raise GraphUnavailable("the tenant discovery document names no tenant id")
    return guid


class GraphClient:
    """GET Graph JSON for one tenant with token, retry and request counting.

    ``sleep`` is injected so tests of throttling and backoff do not wait.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        tenant_id: str,
        http: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.settings, self.tenant_id, self.http = settings, tenant_id, http
        self.sleep, self.policy = sleep, policy
        self.requests = 0
        self.base = settings.graph_url

    def token(self) -> str:
        result = msal_app(self.settings, self.tenant_id, self.http).acquire_token_for_client(GRAPH_SCOPE)
        if not isinstance(result, dict) or "access_token" not in result:
            reason = wire.token_error_message(result or {})
            raise ConsentMissing(f"Microsoft refused a token for tenant {self.tenant_id}: {reason}")
        return str(result["access_token"])

    def get(self, url: str) -> Any:
        """JSON of ``url``; raises a ``protocol.errors.GraphError`` subclass when Graph says no."""
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            try:
                return self._once(url)
            except wire.AccessDenied as exc:
                if exc.status != 401 or refreshed:
                    raise
                refreshed = True  # an expired token: fetch a new one once (spec §8.1 401)
                forget_tokens(self.settings, self.tenant_id, self.http)
            except (wire.Throttled, wire.ServerError) as exc:
                self._wait(attempt, exc.retry_after, str(exc))

    def _wait(self, attempt: int, retry_after: float | None, what: str) -> None:
        delay = self.policy.delay(attempt, retry_after)
        if delay is None:
            raise GraphUnavailable(f"Microsoft Graph kept failing after {attempt} attempts ({what}); next run retries")
        self.sleep(delay)

    def _once(self, url: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}"}
        self.requests += 1
        try:
            response = self.http.get(url, headers=headers)
        except httpx.TransportError as exc:  # timeouts, dropped connections
            raise wire.ServerError(0, type(exc).__name__, str(exc) or "connection failed") from exc
        if response.status_code >= 400:
            raise wire.error_from_response(response.status_code, response.headers, _json(response))
        return response.json()

    def pages(self, url: str) -> Iterator[Page]:
        """Every page of a collection or delta round, following ``@odata.nextLink`` verbatim."""
        next_url: str | None = url
        while next_url:
            page = parse_page(self.get(next_url))
            yield page
            next_url = page.next_link


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
