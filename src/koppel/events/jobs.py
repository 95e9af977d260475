"""Background work of the events capability: the webhook delivery passes (``koppel.jobs``).

``webhooks.dispatch`` runs every 2 seconds (the latency a host app sees) and enqueues one
``webhooks.deliver`` per endpoint that has something due; that job holds the endpoint's lock,
so passes for one endpoint never overlap, while different endpoints are served in parallel
and a slow receiver delays only itself.
"""

from __future__ import annotations

import httpx

from koppel.events import delivery
from koppel.jobs import JobContext, job

DISPATCH_EVERY_SECONDS = 2


@job("webhooks.dispatch", every=DISPATCH_EVERY_SECONDS)
def dispatch(ctx: JobContext) -> None:
    with ctx.transaction() as session:
        endpoint_ids = delivery.due_endpoint_ids(session=session, now=ctx.now())
    for endpoint_id in endpoint_ids:
        ctx.runner.enqueue("webhooks.deliver", endpoint_id=endpoint_id)


@job("webhooks.deliver", lock="webhook:{endpoint_id}", deduplicate=True)
def deliver(ctx: JobContext, *, endpoint_id: str) -> None:
    with httpx.Client(timeout=ctx.settings.webhook_timeout_seconds) as http:
        delivery.deliver_endpoint(
            session_factory=ctx.session_factory,
            secret_box=ctx.secret_box,
            http=http,
            endpoint_id=endpoint_id,
            clock=ctx.clock,
        )
