"""Checks of what an admin types for an organization: slugs, e-mail domains, URLs.

Each failure names the field and says what a valid value looks like.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from koppel.errors import InvalidInput

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# A DNS name with at least two labels; labels of letters, digits and inner hyphens (RFC 1035).
DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
# Fixed path segments under /sso/ (koppel.sso.routes): an organization with such a slug would
# lose its entry link /sso/{slug} to them. tests/sso/test_reserved_slugs.py keeps this complete.
RESERVED_SLUGS = frozenset({"discover", "callback"})
# Entra tenant ids, object ids and app ids are GUIDs.
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def check_slug(slug: str) -> str:
    value = slug.strip()
    if not SLUG.match(value):
        raise InvalidInput(
            f"slug {slug!r} is not valid: use 1 to 63 lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit (e.g. 'contoso' or 'acme-nl')",
            field="slug",
        )
    if value in RESERVED_SLUGS:
        raise InvalidInput(
            f"slug {slug!r} is reserved (koppel uses /sso/{value} itself); choose another, e.g. '{value}-org'",
            field="slug",
        )
    return value


def check_domain(domain: str, *, field: str = "domains") -> str:
    value = domain.strip().lower().rstrip(".")
    if value.startswith("@"):
        value = value[1:]
    try:
        value = value.encode("idna").decode("ascii")  # IDN domains are stored in their ASCII form
    except UnicodeError:
        value = "\x00"
    if not DOMAIN.match(value):
        raise InvalidInput(
            f"{domain!r} is not an e-mail domain; give the part after the @, e.g. 'contoso.com'", field=field
        )
    return value


def check_url(url: str | None, *, field: str) -> str | None:
    """An absolute http(s) URL, or None when empty."""
    if url is None or not url.strip():
        return None
    value = url.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"{url!r} is not a web address; give a full URL like https://example.com/privacy", field=field
        )
    return value


def check_guid(value: str, *, field: str, what: str) -> str:
    cleaned = value.strip().strip("{}").lower()
    if not GUID.match(cleaned):
        raise InvalidInput(
            f"{what} {value!r} is not a GUID; copy it from the Entra admin center "
            "(it looks like 72f988bf-86f1-41af-91ab-2d7cd011db47)",
            field=field,
        )
    return cleaned


def check_name(name: str, *, field: str = "name", max_length: int = 200) -> str:
    value = name.strip()
    if not value or len(value) > max_length or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"{field} must be 1 to {max_length} printable characters", field=field)
    return value
