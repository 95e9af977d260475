"""The shared upstream fetcher as a request dependency (tests put their own on ``app.state``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from koppel.sso.upstream.fetcher import UpstreamFetcher


def get_fetcher(request: Request) -> UpstreamFetcher:
    fetcher: UpstreamFetcher | None = getattr(request.app.state, "sso_fetcher", None)
    if fetcher is None:
        fetcher = UpstreamFetcher()
        request.app.state.sso_fetcher = fetcher
    return fetcher


FetcherDep = Annotated[UpstreamFetcher, Depends(get_fetcher)]
