"""Organization slugs that would collide with koppel's own routes under /sso/ are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.routing import Route

from koppel.db.base import utcnow
from koppel.errors import InvalidInput
from koppel.organizations import service as org_service
from koppel.organizations.validation import RESERVED_SLUGS, check_slug
from koppel.sso.routes import router as sso_router


def paths(routes: list[Any]) -> Iterator[str]:
    for route in routes:
        if isinstance(route, Route):
            yield route.path
        elif hasattr(route, "original_router"):  # FastAPI's included router (no prefix here)
            yield from paths(route.original_router.routes)


def test_every_fixed_sso_segment_is_reserved() -> None:
    # The first path segment after /sso/ of every route that is not the /sso/{org} entry link.
    segments = {p.split("/")[2] for p in paths(sso_router.routes) if p.startswith("/sso/") and p != "/sso/{org}"}
    assert {"discover", "callback"} <= segments
    assert segments <= RESERVED_SLUGS


@pytest.mark.parametrize("slug", sorted(RESERVED_SLUGS))
def test_reserved_slug_is_refused_with_advice(slug: str) -> None:
    with pytest.raises(InvalidInput, match="reserved") as info:
        check_slug(slug)
    assert f"{slug}-org" in info.value.detail


def test_slugs_that_merely_contain_a_reserved_word_are_fine() -> None:
    assert check_slug("callback-bv") == "callback-bv" and check_slug("discovery") == "discovery"


def test_creating_an_organization_with_a_reserved_slug_fails(session: Session) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        org_service.create_organization(
            session=session, slug="discover", fields=org_service.OrganizationFields(name="Discover BV"), now=utcnow()
        )
