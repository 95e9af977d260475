"""Graph ``user`` objects (spec §8.3) to the fields koppel's directory stores."""

from __future__ import annotations

from typing import Any


def user_fields(item: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``directory.changes.UserRecord`` from a Graph user.

    Guests keep ``userType`` and ``externalUserState`` (PendingAcceptance → Accepted); the
    immutable object ``id`` is the key, the UPN may change (issue 4 §4).
    """
    phones = item.get("businessPhones") or []
    return {
        "external_id": str(item["id"]),
        "user_name": str(item.get("userPrincipalName") or item["id"]),
        "email": item.get("mail"),
        "display_name": item.get("displayName"),
        "given_name": item.get("givenName"),
        "family_name": item.get("surname"),
        "job_title": item.get("jobTitle"),
        "department": item.get("department"),
        "mobile_phone": item.get("mobilePhone"),
        "business_phone": phones[0] if phones else None,
        "user_type": item.get("userType"),
        "external_user_state": item.get("externalUserState"),
        "account_enabled": item.get("accountEnabled") is not False,
        "attributes": {"preferredLanguage": item["preferredLanguage"]} if item.get("preferredLanguage") else {},
    }


def merge_partial(stored: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """A delta round may omit unchanged or never-set properties (§8.5): keep what is stored."""
    return {**stored, **{k: v for k, v in item.items() if not k.startswith("@")}}
