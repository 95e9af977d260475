"""SSO's JSON API: host-app clients, sign-in connections, the groups-seen table, the token exchange."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from koppel.api.deps import ApiKeyDep, NowDep, SecretBoxDep, SessionDep, SettingsDep
from koppel.errors import Forbidden, Unauthorized
from koppel.organizations.routes import owned_organization
from koppel.sso import clients, connections, exchange, keys, service
from koppel.sso.errors import LoginFailed
from koppel.sso.models import SsoClient
from koppel.sso.provider import service as provider_service
from koppel.sso.provider.context import ProviderContext
from koppel.sso.upstream.deps import FetcherDep

router = APIRouter(prefix="/api/v1", tags=["sso"])
TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class ClientCreate(BaseModel):
    name: str = Field(max_length=200)
    redirect_uris: list[str] = Field(min_length=1, max_length=20, description="Exact OIDC callback URLs.")
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    initiate_login_uri: str | None = Field(default=None, description="The app's login URL for /sso/{org} links.")
    id_token_signed_response_alg: Literal["RS256", "ES256"] = Field(
        default="RS256", description="OIDC Registration §2: signature of its ID and access tokens."
    )


class EntraAppCreate(BaseModel):
    identity_provider: str = Field(description="https://login.microsoftonline.com/{tenant-id or name}/")
    client_id: str
    client_secret: str = Field(description="Any characters, '/' and '+' included.")
    domain_hint: str | None = None
    api_audiences: list[str] = Field(default_factory=list, description="api://… audiences for the token exchange.")
    api_client_apps: list[str] = Field(
        default_factory=list,
        description="App ids that may exchange tokens (Teams, Outlook, your SPA); empty: Microsoft's Teams and Office.",
    )
    name: str = "Entra ID"


class OidcCreate(BaseModel):
    discovery_url: str
    client_id: str
    client_secret: str
    claim_mapping: dict[str, str] = Field(default_factory=dict, description="koppel field → the IdP's claim.")
    scopes: list[str] = Field(default_factory=list)
    organization_owned: bool = False
    name: str = "OpenID Connect"


def _operator(key: Any) -> None:
    if key.org_id is not None:
        raise Forbidden("only an operator API key may manage host-app clients")


@router.post("/sso/clients", status_code=201)
def create_client(
    body: ClientCreate, session: SessionDep, key: ApiKeyDep, box: SecretBoxDep, now: NowDep
) -> dict[str, Any]:
    """Register a host app; the response carries the client secret, the only time it is shown."""
    _operator(key)
    client, secret = clients.create_client(
        session=session, name=body.name, redirect_uris=body.redirect_uris,
        post_logout_redirect_uris=body.post_logout_redirect_uris, initiate_login_uri=body.initiate_login_uri,
        id_token_signed_response_alg=body.id_token_signed_response_alg, now=now,
    )  # fmt: skip
    if body.id_token_signed_response_alg != keys.ALGORITHM:  # its key in the JWKS before its first token
        keys.ensure_keys(session=session, secret_box=box, now=now)
    return clients.client_view(client, secret=secret)


@router.get("/sso/clients")
def list_clients(session: SessionDep, key: ApiKeyDep) -> list[dict[str, Any]]:
    _operator(key)
    return [clients.client_view(c) for c in clients.list_clients(session=session)]


@router.post("/organizations/{org}/sso/entra-app", status_code=201)
def add_entra_app(
    org: str, body: EntraAppCreate, session: SessionDep, key: ApiKeyDep, box: SecretBoxDep, settings: SettingsDep,
    now: NowDep,
) -> dict[str, Any]:  # fmt: skip
    """Customer-app mode (seed 001); ``redirect_uri`` is what the admin adds to the app registration."""
    found = owned_organization(session, key, org)
    app = connections.EntraApp(
        body.identity_provider, body.client_id, body.client_secret, body.domain_hint, body.api_audiences,
        body.api_client_apps,
    )  # fmt: skip
    connection = connections.add_entra_app(
        session=session, secret_box=box, org=found.id, app=app, name=body.name, now=now
    )
    return connections.sso_view(connection, secret_box=box, base_url=settings.base_url)


@router.post("/organizations/{org}/sso/oidc", status_code=201)
def add_oidc(
    org: str, body: OidcCreate, session: SessionDep, key: ApiKeyDep, box: SecretBoxDep, settings: SettingsDep,
    now: NowDep,
) -> dict[str, Any]:  # fmt: skip
    found = owned_organization(session, key, org)
    idp = connections.OidcIdp(
        body.discovery_url, body.client_id, body.client_secret, body.claim_mapping, body.scopes,
        body.organization_owned,
    )  # fmt: skip
    connection = connections.add_oidc(session=session, secret_box=box, org=found.id, idp=idp, name=body.name, now=now)
    return connections.sso_view(connection, secret_box=box, base_url=settings.base_url)


@router.get("/organizations/{org}/sso/groups")
def groups_seen(org: str, session: SessionDep, key: ApiKeyDep) -> list[dict[str, Any]]:
    """Every group seen in a login or a sync, named where known, with its mapped role (seed 001)."""
    return service.groups_seen(session=session, org_id=owned_organization(session, key, org).id)


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


FormDep = Annotated[dict[str, str], Depends(_form)]


def _client(request: Request, form: dict[str, str], session: Any) -> SsoClient:
    """The host app authenticates as its koppel client: HTTP Basic (RFC 6749 §2.3.1) or form fields."""
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(value).decode()
        except ValueError:
            pair = ""
        client_id, _, secret = (unquote(p) for p in pair.partition(":"))
    client = clients.find_client(session=session, client_id=client_id)
    if client is None or not clients.secret_matches(client, secret):
        raise Unauthorized("authenticate with the host app's koppel client_id and client_secret")
    return client


@router.post("/token/exchange")
def token_exchange(
    request: Request,
    form: FormDep,
    session: SessionDep,
    settings: SettingsDep,
    box: SecretBoxDep,
    now: NowDep,
    fetcher: FetcherDep,
) -> JSONResponse:
    """Entra access token for the host app's API (Teams tab, Outlook add-in) → koppel tokens (+ Graph, OBO)."""
    client = _client(request, form, session)
    token = form.get("subject_token") or form.get("token") or ""
    try:
        done = exchange.exchange(
            session=session, fetcher=fetcher, settings=settings, secret_box=box, token=token,
            want_graph=form.get("graph", "").lower() in ("1", "true", "yes"), now=now,
        )  # fmt: skip
    except LoginFailed as exc:  # answered, not raised: the sso.login.failed event must be committed
        return JSONResponse(exc.to_problem(), status_code=401, media_type="application/problem+json")
    ctx = ProviderContext(session, box, settings.base_url, now)
    scope = form.get("scope") or "openid profile email offline_access"
    body = provider_service.issue_tokens(ctx, client_id=client.client_id, sso_session=done.sso_session, scope=scope)
    if done.graph is not None:
        body["graph"] = done.graph
    return JSONResponse(body, headers=TOKEN_HEADERS)
