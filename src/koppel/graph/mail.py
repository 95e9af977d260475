"""The admin-consent e-mail (issue 4 §3; seed 000 §2.3), Dutch or English, sent over SMTP.

Templates live in ``koppel/templates/graph/consent_<locale>.txt``; their first line is the
subject ("Onderwerp:" / "Subject:").
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from koppel.errors import UpstreamError
from koppel.settings import Settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "graph"
_env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=False)  # noqa: S701 (plain text mail)


class MailNotSent(UpstreamError):
    """The SMTP server could not be reached or refused the message."""


def render_consent_mail(locale: str, **values: Any) -> tuple[str, str]:
    """(subject, body) of the consent e-mail in ``locale`` (nl or en)."""
    text = _env.get_template(f"consent_{locale}.txt").render(**values)
    first, _, body = text.partition("\n")
    return first.split(":", 1)[1].strip(), body.lstrip("\n")


def send(settings: Settings, *, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password is not None:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailNotSent(
            f"could not send the consent e-mail to {to} via {settings.smtp_host}:{settings.smtp_port} ({exc}); "
            "check KOPPEL_SMTP_*; the link is shown here, so you can also forward it yourself"
        ) from exc
