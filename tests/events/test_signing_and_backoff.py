"""The signature scheme and the retry schedule, on plain data; the docs snippet agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from koppel.events import backoff, signing
from tests.events.helpers import docs_verify

SECRET, BODY, T = "whsec_test", b'{"id":1}', 1_795_597_200


def test_sign_then_verify() -> None:
    header = signing.sign(SECRET, BODY, timestamp=T)
    assert header.startswith(f"t={T},v1=")
    assert signing.verify(SECRET, header, BODY, now=T + 10) == T
    assert docs_verify()(SECRET, header, BODY, now=T + 10)


@pytest.mark.parametrize(
    ("secret", "body", "now", "header_edit"),
    [
        ("whsec_other", BODY, T, None),
        (SECRET, b'{"id":2}', T, None),
        (SECRET, BODY, T + 301, None),
        (SECRET, BODY, T, "v1=deadbeef"),
        (SECRET, BODY, T, "garbage"),
        (SECRET, BODY, T, ""),
    ],
)
def test_rejects(secret: str, body: bytes, now: int, header_edit: str | None) -> None:
    header = signing.sign(SECRET, BODY, timestamp=T) if header_edit is None else f"t={T},{header_edit}"
    if header_edit == "garbage":
        header = "garbage"
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, header, body, now=now)
    assert not docs_verify()(secret, header, body, now=now)


def test_any_of_several_signatures_matches() -> None:
    good = signing.sign(SECRET, BODY, timestamp=T).split(",")[1]
    assert signing.verify(SECRET, f"t={T},v1=00,{good}", BODY, now=T)


def test_new_secrets_are_distinct_and_prefixed() -> None:
    a, b = signing.new_secret(), signing.new_secret()
    assert a != b and a.startswith("whsec_") and len(a) > 40


def test_backoff_doubles_from_10_seconds_up_to_an_hour() -> None:
    delays = [backoff.retry_delay(n, rand=0.5).total_seconds() for n in range(1, 13)]
    assert delays == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]


@pytest.mark.parametrize("attempt", [1, 5, 40])
def test_jitter_stays_within_20_percent(attempt: int) -> None:
    middle = backoff.retry_delay(attempt, rand=0.5)
    low, high = backoff.retry_delay(attempt, rand=0.0), backoff.retry_delay(attempt, rand=0.999)
    assert middle * 0.8 <= low < middle < high <= middle * 1.2


def test_retries_span_at_least_24_hours_then_stop() -> None:
    first = now = datetime(2026, 11, 24, tzinfo=UTC)
    attempts = 1
    while (nxt := backoff.next_attempt_at(attempt=attempts, first_failure=first, now=now, rand=0.0)) is not None:
        now, attempts = nxt, attempts + 1
    assert now - first >= timedelta(hours=24)
    assert 25 <= attempts <= 45
