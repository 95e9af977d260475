"""Property tests (hypothesis) for the filter parser and the PATCH engine."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from koppel.scim.errors import ScimError
from koppel.scim.protocol.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    parse_filter,
    render,
)
from koppel.scim.protocol.patch import apply_patch
from koppel.scim.protocol.resource import normalize
from koppel.scim.protocol.schemas import ENTERPRISE_SCHEMA, GROUP, USER

names = st.sampled_from(["userName", "displayName", "emails", "name", "active", "title", "x-y", "$ref", "value"])
subs = st.none() | st.sampled_from(["value", "givenName", "type"])
urns = st.none() | st.just(ENTERPRISE_SCHEMA)
paths = st.builds(AttrPath, attr=names, sub=subs, urn=urns)
values = (
    st.text(st.characters(exclude_characters="\x00"), max_size=12)  # NUL is refused (test_awkward_input)
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.booleans()
    | st.none()
)
ops = st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
simple = st.builds(Compare, path=paths, op=ops, value=values) | st.builds(Present, path=paths)
relative = st.builds(AttrPath, attr=names)
inner = st.recursive(
    st.builds(Compare, path=relative, op=ops, value=values) | st.builds(Present, path=relative),
    lambda kids: st.builds(And, kids, kids) | st.builds(Or, kids, kids) | st.builds(Not, kids),
    max_leaves=4,
)
filters: st.SearchStrategy[Filter] = st.recursive(
    simple | st.builds(ValuePath, path=st.builds(AttrPath, attr=names), filter=inner),
    lambda kids: st.builds(And, kids, kids) | st.builds(Or, kids, kids) | st.builds(Not, kids),
    max_leaves=8,
)


@given(filters)
@settings(max_examples=300, deadline=None)
def test_render_then_parse_is_identity(node: Filter) -> None:
    assert parse_filter(render(node)) == node


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_is_a_scim_400(text: str) -> None:
    try:
        parse_filter(text)
    except ScimError as exc:
        assert exc.status_code == 400 and exc.scim_type in ("invalidFilter", "invalidPath")


def test_operator_keywords_are_case_insensitive() -> None:
    assert parse_filter('userName EQ "a" AND NOT (title Pr)') == And(
        Compare(AttrPath("userName"), "eq", "a"), Not(Present(AttrPath("title")))
    )


patch_paths = st.sampled_from(
    [
        None,
        "displayName",
        "title",
        "active",
        "name.givenName",
        "name",
        "emails",
        'emails[type eq "work"].value',
        'emails[type eq "work"]',
        'phoneNumbers[type eq "mobile"].value',
        'addresses[type eq "work"].locality',
        f"{ENTERPRISE_SCHEMA}:department",
        f"{ENTERPRISE_SCHEMA}:manager",
        ENTERPRISE_SCHEMA,
        "emails[type eq",
        "nosuch",
        "userName",
    ]
)
patch_values = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.sampled_from(["True", "False", True, False, ""]),
    st.fixed_dictionaries({}, optional={"value": st.text(max_size=5), "type": st.sampled_from(["work", "home"])}),
    st.lists(st.fixed_dictionaries({"value": st.text(min_size=1, max_size=5)}), max_size=3),
    st.fixed_dictionaries(
        {}, optional={"displayName": st.text(max_size=5), "name.familyName": st.text(max_size=5), "title": st.none()}
    ),
)
operations = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "Add", "replace", "Replace", "remove", "bogus"])},
        optional={"path": patch_paths, "value": patch_values},
    ),
    min_size=1,
    max_size=6,
)


@given(operations)
@settings(max_examples=400, deadline=None)
def test_patch_result_is_a_valid_canonical_user_or_a_scim_400(ops: list[dict[str, Any]]) -> None:
    start = {"userName": "ada@x.com", "emails": [{"type": "work", "value": "ada@x.com"}], "active": True}
    try:
        new, _ = apply_patch(USER, start, {"Operations": ops})
    except ScimError as exc:
        assert 400 <= exc.status_code < 500
        return
    assert start == {"userName": "ada@x.com", "emails": [{"type": "work", "value": "ada@x.com"}], "active": True}
    # whatever the engine produced, normalising it again changes nothing (canonical, no empties)
    again, _ = normalize(USER, new)
    assert again == new
    for key in ("emails", "phoneNumbers", "addresses"):
        types = [e.get("type") for e in new.get(key, []) if e.get("type")]
        if key != "emails":
            assert len(types) == len(set(types))


member_ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "remove-filter", "replace"]),
        st.lists(st.sampled_from(["u1", "u2", "u3", "u4"]), max_size=3),
    ),
    min_size=1,
    max_size=8,
)


@given(st.sets(st.sampled_from(["u1", "u2", "u3", "u4"])), member_ops)
@settings(max_examples=400, deadline=None)
def test_member_delta_matches_a_set_model(current: set[str], sequence: list[tuple[str, list[str]]]) -> None:
    model = set(current)
    body_ops = []
    for kind, ids in sequence:
        if kind == "add":
            model |= set(ids)
            body_ops.append({"op": "Add", "path": "members", "value": [{"value": i} for i in ids]})
        elif kind == "replace":
            model = set(ids)
            body_ops.append({"op": "replace", "path": "members", "value": [{"value": i} for i in ids]})
        elif kind == "remove":
            model -= set(ids)
            if ids:  # Entra's shape: only the listed members
                body_ops.append({"op": "Remove", "path": "members", "value": [{"value": i} for i in ids]})
        else:
            model -= set(ids[:1])
            if ids:
                body_ops.append({"op": "remove", "path": f'members[value eq "{ids[0]}"]'})
    if not body_ops:
        return
    _, delta = apply_patch(GROUP, {"displayName": "g"}, {"Operations": body_ops})
    result = set(delta.replace) if delta.replace is not None else current
    result = (result | set(delta.add)) - set(delta.remove)
    assert result == model
    assert not set(delta.add) & set(delta.remove)
