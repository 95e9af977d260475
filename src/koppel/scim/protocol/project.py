"""``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5) on a rendered resource."""

from __future__ import annotations

from typing import Any

ALWAYS = ("schemas", "id")


def parse_attribute_list(raw: str | None) -> list[str]:
    return [p.strip() for p in raw.split(",") if p.strip()] if raw else []


def _split(path: str, core_urn: str) -> tuple[str | None, str, str | None]:
    """'urn:...:User:department' → (urn, 'department', None); 'name.givenName' → (None, 'name', 'givenName')."""
    urn = None
    if path[:4].lower() == "urn:":
        urn, _, path = path.rpartition(":")
        if urn.lower() == core_urn.lower():
            urn = None
    attr, _, sub = path.partition(".")
    return urn, attr, sub or None


def _find(obj: dict[str, Any], name: str) -> str | None:
    low = name.lower()
    return next((k for k in obj if k.lower() == low), None)


def project(resource: dict[str, Any], core_urn: str, attributes: list[str], excluded: list[str]) -> dict[str, Any]:
    if attributes:
        out = {k: resource[k] for k in ALWAYS if k in resource}
        for path in attributes:
            whole = _find(resource, path)
            if whole is not None and path[:4].lower() == "urn:":  # a whole extension
                out[whole] = resource[whole]
                continue
            urn, attr, sub = _split(path, core_urn)
            src: Any = resource
            dst = out
            if urn is not None:
                key = _find(resource, urn)
                if key is None:
                    continue
                src, dst = resource[key], out.setdefault(key, {})
            key = _find(src, attr)
            if key is None:
                continue
            if sub is None:
                dst[key] = src[key]
            elif isinstance(src[key], dict):
                sk = _find(src[key], sub)
                if sk is not None:
                    dst.setdefault(key, {})[sk] = src[key][sk]
            elif isinstance(src[key], list):
                picked = [{sk: e[sk] for sk in e if sk.lower() == sub.lower()} for e in src[key] if isinstance(e, dict)]
                dst[key] = [p for p in picked if p]
        return out
    if not excluded:
        return resource
    out = dict(resource)
    for path in excluded:
        whole = _find(out, path)
        if whole is not None and path[:4].lower() == "urn:":
            out.pop(whole)
            continue
        urn, attr, sub = _split(path, core_urn)
        container = out
        if urn is not None:
            key = _find(out, urn)
            if key is None:
                continue
            container = out[key] = dict(out[key])
        key = _find(container, attr)
        if key is None or key in ALWAYS:
            continue
        if sub is None:
            container.pop(key)
        elif isinstance(container[key], dict):
            inner = dict(container[key])
            sk = _find(inner, sub)
            if sk is not None:
                inner.pop(sk)
            container[key] = inner
    return out
