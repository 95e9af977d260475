"""Background work of the SSO broker (``koppel.jobs``): the periodic clean-up of expired rows."""

from __future__ import annotations

import logging

from koppel.jobs import JobContext, job
from koppel.sso.cleanup import purge_expired

CLEANUP_EVERY_SECONDS = 600
log = logging.getLogger(__name__)


@job("sso.cleanup", every=CLEANUP_EVERY_SECONDS)
def cleanup(ctx: JobContext) -> None:
    removed = purge_expired(transaction=ctx.transaction, now=ctx.now())
    if any(removed.values()):
        log.info("sso.cleanup removed expired rows: %s", removed)
