"""Issue 4 §2-§3: add an Entra connection, e-mail the consent link, handle every callback answer."""

from __future__ import annotations

import pytest

from koppel.demo_stack import MailCatcher
from koppel.errors import InvalidInput
from koppel.graph.errors import ConsentRejected, TenantNotFound
from tests.graph.conftest import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_DOMAIN,
    GROUP,
    STRANGER,
    Koppel,
    consent_in_browser,
    group_id,
)


def test_add_entra_by_domain_starts_in_needs_consent_and_mails_the_link_in_dutch(
    koppel: Koppel, mailbox: MailCatcher
) -> None:
    connection_id, link = koppel.onboard(tenant=CUSTOMER_DOMAIN.upper(), admin_email="it@ddgc.example")
    connection = koppel.connection(connection_id)
    assert connection.status == "needs_consent"
    assert connection.settings["tenant_id"] == CUSTOMER  # the domain was resolved through discovery
    assert link.url.startswith(f"{koppel.settings.entra_authority}/{CUSTOMER}/v2.0/adminconsent?")
    assert link.emailed_to == "it@ddgc.example" and link.mail_error is None
    [message] = mailbox.messages
    assert message["To"] == "it@ddgc.example" and "Toestemming" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert link.url in body and "beveiligingsgroep" in body


def test_english_mail(koppel: Koppel, mailbox: MailCatcher) -> None:
    koppel.onboard(admin_email="it@ddgc.example", locale="en")
    assert "Consent requested" in mailbox.messages[0]["Subject"]


@pytest.mark.parametrize(
    ("tenant", "groups", "field"),
    [
        ("not a tenant!", [group_id(GROUP)], "tenant_id"),
        (CUSTOMER, ["1234"], "group_id"),
        (CUSTOMER, [], "group_id"),
    ],
)
def test_bad_input_names_the_field(koppel: Koppel, tenant: str, groups: list[str], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        koppel.onboard(tenant=tenant, groups=groups)
    assert caught.value.field == field


def test_unknown_tenant_is_refused(koppel: Koppel) -> None:
    with pytest.raises(TenantNotFound) as caught:
        koppel.onboard(tenant="99999999-9999-4999-8999-999999999999")
    assert caught.value.field == "tenant_id" and "does not know" in caught.value.detail


def test_consent_given_verifies_the_group_and_makes_the_connection_healthy(koppel: Koppel) -> None:
    connection_id, link = koppel.onboard()
    outcome = koppel.callback(consent_in_browser(koppel.entra, link.url))
    assert outcome.accepted and outcome.check is not None and outcome.check.sync_due
    assert outcome.check.groups == [{"id": group_id(GROUP), "display_name": GROUP, "ok": True}]
    assert koppel.connection(connection_id).status == "healthy"


def test_consent_given_but_group_is_not_a_security_group_says_which(koppel: Koppel) -> None:
    connection_id, link = koppel.onboard(groups=[group_id(GROUP), group_id("Team Unified")])
    outcome = koppel.callback(consent_in_browser(koppel.entra, link.url))
    assert not outcome.accepted
    connection = koppel.connection(connection_id)
    assert connection.status == "failing"
    assert group_id("Team Unified") in connection.last_error and "not a security group" in connection.last_error


def test_consent_denied_keeps_needs_consent_with_the_reason(koppel: Koppel) -> None:
    connection_id, link = koppel.onboard()
    outcome = koppel.callback(consent_in_browser(koppel.entra, link.url, accept=False))
    assert not outcome.accepted
    connection = koppel.connection(connection_id)
    assert connection.status == "needs_consent" and "AADSTS65004" in connection.last_error


def test_replayed_state_and_forged_state_are_rejected(koppel: Koppel) -> None:
    _, link = koppel.onboard()
    params = consent_in_browser(koppel.entra, link.url)
    assert koppel.callback(params).accepted
    with pytest.raises(ConsentRejected, match="already used"):
        koppel.callback(params)
    with pytest.raises(ConsentRejected, match="not one koppel issued"):
        koppel.callback({**params, "state": params["state"][:-2] + "xx"})


def test_expired_state_is_rejected(koppel: Koppel) -> None:
    _, link = koppel.onboard()
    params = consent_in_browser(koppel.entra, link.url)
    koppel.clock.advance(days=8)
    with pytest.raises(ConsentRejected, match="expired"):
        koppel.callback(params)


def test_consent_from_another_tenant_is_rejected(koppel: Koppel) -> None:
    connection_id, link = koppel.onboard()
    stranger_link = link.url.replace(f"/{CUSTOMER}/", f"/{STRANGER}/")
    params = consent_in_browser(koppel.entra, stranger_link, login="admin@stranger-sim.onmicrosoft.com")
    assert params["tenant"] == STRANGER
    outcome = koppel.callback(params)
    assert not outcome.accepted and outcome.rejected
    connection = koppel.connection(connection_id)
    assert connection.status == "needs_consent" and STRANGER in connection.last_error


def test_consent_in_the_portal_is_picked_up_by_check(koppel: Koppel) -> None:
    connection_id, _ = koppel.onboard()
    from koppel.db.engine import transaction
    from koppel.graph import service
    from koppel.organizations.connections import get_connection

    def check() -> service.CheckResult:
        with transaction(koppel.factory) as session:
            connection = get_connection(session=session, connection_id=connection_id)
            return service.check_connection(
                session=session, settings=koppel.settings, connection=connection, now=koppel.clock()
            )

    before = check()
    assert before.status == "needs_consent" and "consent" in (before.last_error or "")
    koppel.entra.admin.post(f"/tenants/{CUSTOMER}/consent/{koppel.settings.entra_client_id}")
    after = check()
    assert after.status == "healthy" and after.sync_due
    assert ADMIN  # the admin account exists in the seed; consent via the portal needs no link
