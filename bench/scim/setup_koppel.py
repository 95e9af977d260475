"""Prepare a fresh koppel database for the SCIM benchmark: schema, organization 'bench', a known token.

python setup_koppel.py DATABASE_URL TOKEN
"""

from __future__ import annotations

import sys

from sqlalchemy import text

from koppel.db import migrate
from koppel.db.base import utcnow
from koppel.db.engine import make_engine, make_session_factory, transaction
from koppel.organizations.service import OrganizationFields, create_organization
from koppel.scim import service
from koppel.scim.models import ScimToken
from koppel.security.tokens import hash_token


def main(url: str, token: str) -> None:
    if url.startswith("postgresql"):
        server, _, name = url.rpartition("/")
        admin = make_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    with transaction(factory) as session:
        org = create_organization(session=session, slug="bench", fields=OrganizationFields(name="bench"), now=utcnow())
        conn = service.ensure_connection(session=session, org=org, now=utcnow())
        session.add(
            ScimToken(
                org_id=org.id, connection_id=conn.id, prefix="bench", token_hash=hash_token(token), created_at=utcnow()
            )
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
