"""PostgreSQL: the prepared userName lookups keep using the userName index, even when prepared on an empty table.

Entra's initial provisioning starts on an empty, never analyzed table. A generic plan made then must
not filter every user of the organization on each lookup once thousands have been created.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from koppel.db import migrate
from koppel.db.direct import Direct
from koppel.db.engine import make_engine, make_session_factory, transaction
from koppel.organizations.service import OrganizationFields, create_organization
from koppel.scim import resources, service
from tests.conftest import Clock
from tests.support.databases import ENV, throwaway_database

pytestmark = pytest.mark.skipif(not os.environ.get(ENV), reason="PostgreSQL only (set KOPPEL_TEST_DATABASE_URL)")


@pytest.mark.parametrize(
    ("lookup", "params"),
    [
        # the keys in the order of the statement's parameters ($1, $2, ...), for EXPLAIN EXECUTE below
        (resources._USER_BY_NAME, lambda org, conn, name: {"v": name, "org": org, "conn": conn}),
        (resources._USER_NAME_OWNERS, lambda org, conn, name: {"v": name, "org": org}),
    ],
    ids=["query", "uniqueness-check"],
)
def test_generic_plan_made_on_an_empty_table_uses_the_user_name_index(
    tmp_path: Path, lookup: Direct, params: object
) -> None:
    clock = Clock()
    with throwaway_database("postgresql", tmp_path) as url:
        migrate.upgrade(url)
        engine = make_engine(url, pool_size=1, max_overflow=0)
        try:
            with transaction(make_session_factory(engine)) as session:
                org = create_organization(
                    session=session, slug="acme", fields=OrganizationFields(name="a"), now=clock()
                )
                conn_id = service.create_token(
                    session=session, org=org.id, expires_in=None, now=clock()
                ).token.connection_id
            with engine.connect() as conn:
                for i in range(20):  # prepared by psycopg after 5 runs; PostgreSQL plans generically after 5 more
                    lookup.rows(conn, params(org.id, conn_id, f"nobody{i}@x.com"))  # type: ignore[operator]
                conn.execute(
                    text(
                        "INSERT INTO directory_users (id, org_id, connection_id, external_id, user_name, "
                        "account_enabled, status, attributes, created_at, updated_at) "
                        "SELECT gen_random_uuid()::text, :org, :conn, 'e' || g, 'user' || g || '@x.com', true, "
                        "'active', '{}', now(), now() FROM generate_series(1, 5000) AS g"
                    ),
                    {"org": org.id, "conn": conn_id},
                )
                conn.commit()
                name, generic, types = conn.execute(
                    text(
                        "SELECT name, generic_plans, cardinality(parameter_types) FROM pg_prepared_statements "
                        "WHERE statement LIKE '%user_name_key = lower%' ORDER BY prepare_time DESC LIMIT 1"
                    )
                ).one()
                assert generic > 0  # the statement does run a generic plan
                given = [f"'{v}'" for v in params(org.id, conn_id, "user42@x.com").values()]  # type: ignore[operator]
                values = ", ".join(given + ["2"] * (types - len(given)))  # and the LIMIT's
                plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN EXECUTE {name}({values})"))
        finally:
            engine.dispose()
    assert "ix_directory_users_user_name_key" in plan, plan
