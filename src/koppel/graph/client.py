"""Graph over HTTP: app-only tokens from msal, retries, paging (spec §4, §8, §9).

One msal ``ConfidentialClientApplication`` per (authority, tenant, client id), kept for the
process: msal's in-memory token cache lives in that object, so tokens are reused until they
expire. The Graph ``httpx.Client`` is injected (tests point it at the simulator on loopback).
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

from koppel.graph.errors import ConsentMissing, GraphDenied, GraphUnavailable, TenantNotFound
from koppel.graph.protocol import errors as wire
from koppel.graph.protocol.paging import Page, parse_page
from koppel.graph.protocol.retry import RetryPolicy
from koppel.graph.protocol.tenant import discovery_url, tenant_from_discovery
from koppel.settings import Settings

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_APPS: dict[tuple[str, str, str], msal.ConfidentialClientApplication] = {}
_APPS_LOCK = threading.Lock()


def _credential(settings: Settings) -> Any:
    if settings.entra_client_certificate:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        pem = Path(settings.entra_client_certificate).read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
        thumbprint = hashlib.sha1(cert.public_bytes(Encoding.DER)).hexdigest()  # noqa: S324 (x5t is SHA-1)
        return {"private_key": pem.decode(), "thumbprint": thumbprint}
    if settings.entra_client_secret is None or not settings.entra_client_id:
        raise ConsentMissing(
            "koppel has no Entra app credential: set KOPPEL_ENTRA_CLIENT_ID and KOPPEL_ENTRA_CLIENT_SECRET "
            "(or KOPPEL_ENTRA_CLIENT_CERTIFICATE)"
        )
    return settings.entra_client_secret.get_secret_value()


def _key(settings: Settings, tenant_id: str) -> tuple[str, str, str]:
    return (f"{settings.entra_authority}/{tenant_id}", settings.entra_client_id, settings.entra_client_certificate)


def msal_app(settings: Settings, tenant_id: str) -> msal.ConfidentialClientApplication:
    """The cached msal app for ``{authority}/{tenant}`` (spec §9.2: no instance discovery off Microsoft)."""
    key = _key(settings, tenant_id)
    with _APPS_LOCK:
        if key not in _APPS:
            _APPS[key] = msal.ConfidentialClientApplication(
                settings.entra_client_id,
                client_credential=_credential(settings),
                authority=key[0],
                http_client=httpx.Client(timeout=TIMEOUT),
                instance_discovery=settings.entra_authority == MICROSOFT_AUTHORITY,
            )
        return _APPS[key]


def forget_tokens(settings: Settings, tenant_id: str) -> None:
    """Drop the cached app: the next call fetches a fresh token. Also clears msal's own cache of
    refused requests (spec §9.4: an identical 400 is answered locally for 60 s), so a token asked
    right after consent is given really reaches Microsoft."""
    with _APPS_LOCK:
        app = _APPS.pop(_key(settings, tenant_id), None)
    if app is not None and isinstance(app.http_client, httpx.Client):
        app.http_client.close()


def acquire_token(settings: Settings, tenant_id: str) -> str:
    try:
        result = msal_app(settings, tenant_id).acquire_token_for_client(GRAPH_SCOPE)
    except (ValueError, httpx.HTTPError) as exc:  # msal: discovery refused (unknown tenant) or unreachable
        forget_tokens(settings, tenant_id)
        raise GraphUnavailable(
            f"cannot get a token for tenant {tenant_id} from {settings.entra_authority}: {exc}"
        ) from exc
    if not isinstance(result, dict) or "access_token" not in result:
        forget_tokens(settings, tenant_id)
        reason = wire.token_error_message(result or {})
        if wire.is_consent_missing(result or {}):
            raise ConsentMissing(f"the tenant has not granted koppel admin consent ({reason})")
        raise GraphUnavailable(f"Microsoft refused a token for tenant {tenant_id}: {reason}")
    return str(result["access_token"])


def resolve_tenant(*, settings: Settings, http: httpx.Client, tenant: str) -> str:
    """The tenant GUID for a GUID or domain, checked through discovery (spec §2.1, §2.3)."""
    try:
        response = http.get(discovery_url(settings.entra_authority, tenant))
    except httpx.HTTPError as exc:
        raise GraphUnavailable(f"cannot reach {settings.entra_authority} to look up the tenant: {exc}") from exc
    if response.status_code == 400:
        raise TenantNotFound(
            f"Microsoft does not know the tenant {tenant!r}; check the Tenant ID on the Entra overview page",
            field="tenant_id",
        )
    if response.status_code != 200:
        raise GraphUnavailable(f"tenant discovery answered HTTP {response.status_code}; try again later")
    guid = tenant_from_discovery(response.json())
    if guid is None:
        raise GraphUnavailable("the tenant discovery document names no tenant id")
    return guid


class GraphClient:
    """GET Graph JSON for one tenant with token, retry and request counting.

    ``sleep`` is injected so tests of throttling and backoff can see the waits.
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
        self.base = f"{settings.graph_url}/v1.0"

    def get(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """JSON of ``url``; raises a ``protocol.errors.GraphError`` subclass when Graph says no."""
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            try:
                return self._once(url, headers or {})
            except wire.AccessDenied as exc:
                if exc.status != 401 or refreshed:
                    raise GraphDenied(_denied_message(exc)) from exc
                refreshed = True  # an expired token: fetch a new one once (spec §8.1 401)
                forget_tokens(self.settings, self.tenant_id)
            except (wire.Throttled, wire.ServerError) as exc:
                self._wait(attempt, exc.retry_after, str(exc))

    def _wait(self, attempt: int, retry_after: float | None, what: str) -> None:
        delay = self.policy.delay(attempt, retry_after)
        if delay is None:
            raise GraphUnavailable(f"Microsoft Graph kept failing after {attempt} attempts ({what}); next run retries")
        self.sleep(delay)

    def _once(self, url: str, headers: dict[str, str]) -> Any:
        sent = {"Authorization": f"Bearer {acquire_token(self.settings, self.tenant_id)}", **headers}
        self.requests += 1
        try:
            response = self.http.get(url, headers=sent)
        except httpx.TransportError as exc:  # timeouts, dropped connections
            raise wire.ServerError(0, type(exc).__name__, str(exc) or "connection failed") from exc
        if response.status_code >= 400:
            raise wire.error_from_response(response.status_code, response.headers, _json(response))
        try:
            return response.json()
        except ValueError as exc:  # a truncated body: as good as a dropped connection
            raise wire.ServerError(response.status_code, "InvalidJson", "the answer was not complete JSON") from exc

    def pages(self, url: str, headers: dict[str, str] | None = None) -> Iterator[Page]:
        """Every page of a collection or delta round, following ``@odata.nextLink`` verbatim."""
        next_url: str | None = url
        while next_url:
            page = parse_page(self.get(next_url, headers if next_url == url else None))
            yield page
            next_url = page.next_link


def _denied_message(exc: wire.GraphError) -> str:
    if exc.status == 403:
        return (
            "Microsoft Graph refused access (403 Authorization_RequestDenied): koppel lacks the permission to read "
            "users and groups in this tenant; ask the tenant admin to grant consent again"
        )
    return (
        f"Microsoft Graph refused koppel's token (401 {exc.code}: {exc.message}); the admin consent was probably "
        "revoked; ask the tenant admin to grant consent again"
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
