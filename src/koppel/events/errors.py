"""Errors of the events capability (webhooks); see the tree in ``koppel.errors``."""

from __future__ import annotations

from koppel.errors import InvalidInput, NotFound


class WebhookEndpointNotFound(NotFound):
    """No webhook endpoint with that id (in this organization)."""


class WebhookDeliveryNotFound(NotFound):
    """No delivery-log entry with that id."""


class InvalidWebhook(InvalidInput):
    """A webhook URL or event-type filter an admin typed is not usable."""
