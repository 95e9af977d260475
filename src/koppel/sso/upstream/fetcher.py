"""HTTP towards identity providers: discovery and JWKS cached per process, tokens exchanged.

One ``httpx.Client`` is shared (TLS set-up once, connections kept alive); tests inject one that
trusts the simulator's CA (``verify=path``), never one that skips verification.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from joserfc.jwk import KeySet

from koppel.errors import UpstreamError
from koppel.sso.protocol.discovery import ProviderMetadata, check_issuer_matches, parse_metadata
from koppel.sso.protocol.idtoken import import_jwks

CACHE_SECONDS = 3600.0
# A JWKS refetch on an unknown kid at most this often per URI (spec §2.4 key rollover,
# without letting forged kids make koppel hammer the IdP).
REFETCH_MIN_SECONDS = 10.0


@dataclass
class _Cached:
    value: Any
    fetched: float


@dataclass
class UpstreamFetcher:
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))
    _metadata: dict[str, _Cached] = field(default_factory=dict)
    _jwks: dict[str, _Cached] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def metadata(self, discovery_url: str) -> ProviderMetadata:
        cached = self._metadata.get(discovery_url)
        if cached and time.monotonic() - cached.fetched < CACHE_SECONDS:
            value: ProviderMetadata = cached.value
            return value
        doc = self.get_json(discovery_url, what="the discovery document")
        metadata = parse_metadata(doc, source=discovery_url)
        check_issuer_matches(metadata, discovery_url)
        self._metadata[discovery_url] = _Cached(metadata, time.monotonic())
        return metadata

    def keys(self, jwks_uri: str, *, refresh: bool = False) -> KeySet:
        cached = self._jwks.get(jwks_uri)
        age = time.monotonic() - cached.fetched if cached else None
        if cached and age is not None and (age < CACHE_SECONDS and (not refresh or age < REFETCH_MIN_SECONDS)):
            keys: KeySet = cached.value
            return keys
        with self._lock:
            keys = import_jwks(self.get_json(jwks_uri, what="the signing keys (JWKS)"))
            self._jwks[jwks_uri] = _Cached(keys, time.monotonic())
        return keys

    def get_json(self, url: str, *, what: str, headers: dict[str, str] | None = None) -> Any:
        try:
            response = self.client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"could not fetch {what} from {url}: {exc}") from exc
        return _json(response, what=what, url=url)

    def token_request(
        self, token_endpoint: str, *, data: dict[str, str], client_id: str, client_secret: str, basic: bool
    ) -> dict[str, Any]:
        """RFC 6749 §2.3.1: Basic credentials are form-urlencoded first, so any secret works."""
        headers = {"Accept": "application/json"}
        form = dict(data)
        if basic:
            pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form.update(client_id=client_id, client_secret=client_secret)
        try:
            response = self.client.post(token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"could not reach the token endpoint {token_endpoint}: {exc}") from exc
        body = _json(response, what="the token response", url=token_endpoint, allow_error=True)
        if response.status_code >= 400 or "error" in body:
            description = body.get("error_description") or body.get("error") or response.status_code
            raise UpstreamError(f"the identity provider refused the token request: {description}", reason="token")
        return dict(body)


def _json(response: httpx.Response, *, what: str, url: str, allow_error: bool = False) -> Any:
    if response.status_code >= 400 and not allow_error:
        raise UpstreamError(f"{url} answered {response.status_code} for {what}")
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamError(f"{url} did not return JSON for {what}") from exc
