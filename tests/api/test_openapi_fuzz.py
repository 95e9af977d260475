"""Schemathesis fuzzes every operation of /openapi.json: no request may produce a 500.

The operations are driven from one test (rather than ``schema.parametrize``) because the app
needs this suite's database fixtures, which schemathesis' fixture loader cannot reach here.
"""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import transaction
from koppel.organizations.service import OrganizationFields, create_organization
from tests.api.conftest import make_key
from tests.conftest import Clock


def test_no_request_produces_a_server_error(app: FastAPI, session_factory: sessionmaker[Session], clock: Clock) -> None:
    with transaction(session_factory) as session:  # something real for paths to find
        create_organization(session=session, slug="contoso", fields=OrganizationFields(name="C"), now=clock())
    headers = make_key(session_factory, clock)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20, "the management API's operations are in the schema"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()
