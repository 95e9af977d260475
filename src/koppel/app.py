"""``create_app(settings)``: puts the parts together. No logic lives here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from koppel import __version__
from koppel.api import problems
from koppel.db.base import utcnow
from koppel.db.engine import make_engine, make_session_factory
from koppel.directory.routes import router as directory_router
from koppel.events.routes import router as events_router
from koppel.events.webhook_routes import router as webhooks_router
from koppel.graph.routes import router as graph_router
from koppel.ops.routes import Metrics, MetricsMiddleware
from koppel.ops.routes import router as ops_router
from koppel.organizations.routes import router as organizations_router
from koppel.roles.routes import router as roles_router
from koppel.scim.routes import ScimApp
from koppel.scim.routes import router as scim_router
from koppel.security.crypto import SecretBox
from koppel.settings import Settings
from koppel.sso.fastpath import SsoLoginApp
from koppel.sso.routes import router as sso_router


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    app = FastAPI(
        title="koppel",
        version=__version__,
        description="Microsoft 365 / Entra ID integration for your SaaS app: management API.",
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.session_factory = make_session_factory(app.state.engine)
    app.state.clock = clock
    app.state.secret_box = SecretBox(settings.secret)
    app.state.metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(ScimApp, state=app.state)  # outermost: the Tenant URL skips the router (see ScimApp)
    app.add_middleware(SsoLoginApp, state=app.state)  # likewise a login's three requests (see SsoLoginApp)
    problems.install(app)
    app.include_router(ops_router)
    app.include_router(organizations_router)
    app.include_router(directory_router)
    app.include_router(roles_router)
    app.include_router(events_router)
    app.include_router(webhooks_router)
    app.include_router(graph_router)
    app.include_router(scim_router)
    app.include_router(sso_router)
    return app
