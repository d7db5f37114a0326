"""Email: every message goes through an outbox table; SMTP delivers it when configured.

    send_email(to=user.email, subject="Activate your account", text=body, kind="activation")

`send_email` adds an `EmailMessage` row to the caller's transaction, so a message exists exactly
when the change that caused it is committed. After the commit, and only then, a job on the
"default" queue delivers it over SMTP (`SMTP_URL`), retrying with backoff, and records "sent" or
"failed". Without `SMTP_URL` the message is kept with status "logged": in development
`flask narrative outbox` lists the messages and `--show ID` prints one, links included.

SMTP_URL: `smtp://user:pass@host:587?starttls=1` (STARTTLS), `smtps://user:pass@host:465`
(implicit TLS) or `smtp://host:25` (plain, for a local relay). User and password are URL-encoded.
"""

import functools
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import sqlalchemy as sa
from flask import current_app
from rq import Retry, get_current_job
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db, get_queue
from narrative.platform import unit_of_work
from narrative.platform.errors import ValidationFailed
from narrative.platform.models import IdMixin, UTCDateTime, utcnow
from narrative.platform.transactions import on_commit

log = logging.getLogger("narrative.email")

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
LOGGED = "logged"
STATUSES = (QUEUED, SENT, FAILED, LOGGED)

# Delivery attempts after the first, and the waits before them (seconds).
RETRY_INTERVALS = (30, 120, 600, 1800)
DELIVERY_JOB_TIMEOUT = 180


class EmailMessage(IdMixin, db.Model):
    """One outgoing email and what became of it."""

    __tablename__ = "email_messages"

    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="SET NULL"), index=True
    )
    to_address: Mapped[str] = mapped_column(sa.String(320), index=True, nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(998), nullable=False)
    text_body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str | None] = mapped_column(sa.String(60))
    status: Mapped[str] = mapped_column(sa.String(20), default=LOGGED, nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, nullable=False)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool
    timeout: float


def parse_smtp_url(url, *, timeout=20):
    """SMTP settings from `smtp[s]://user:pass@host:port[?starttls=1]`."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:587?starttls=1 or smtps://host:465")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[-1].lower() in ("1", "true", "yes", "on")
    implicit_tls = parts.scheme == "smtps"
    default_port = 465 if implicit_tls else 587 if starttls else 25
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit_tls,
        starttls=starttls and not implicit_tls,
        timeout=timeout,
    )


def smtp_settings():
    """The current app's SMTP settings, or None when email is only kept in the outbox."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        return None
    return parse_smtp_url(url, timeout=current_app.config.get("SMTP_TIMEOUT_SECONDS", 20))


# --- writing to the outbox ----------------------------------------------------------------------


def _clean_address(to):
    """One plain address; anything that could add a header or a second recipient is refused."""
    value = str(to or "").strip()
    _, address = parseaddr(value)
    if not address or address != value or "@" not in address or any(c in address for c in "\r\n,;<>"):
        raise ValidationFailed(
            "The recipient is not a valid email address.",
            details=[{"field": "to", "message": "Enter one email address, like name@example.com."}],
        )
    return address


def _one_line(text):
    return " ".join(str(text).split())[:998]


def send_email(*, to, subject, text, html=None, workspace_id=None, kind=None):
    """Write a message to the outbox in the current transaction; SMTP delivery follows the commit."""
    deliver = smtp_settings() is not None
    message = EmailMessage(
        workspace_id=workspace_id,
        to_address=_clean_address(to),
        subject=_one_line(subject),
        text_body=text,
        html_body=html,
        kind=kind,
        status=QUEUED if deliver else LOGGED,
        attempts=0,
    )
    db.session.add(message)
    db.session.flush()
    if deliver:
        on_commit(functools.partial(_hand_over, message.id))
    else:
        log.info("email kept in the outbox (SMTP_URL unset): %s to %s", message.id, message.to_address)
    return message


def _enqueue_delivery(queue, message_id):
    queue.enqueue(
        deliver_email,
        str(message_id),
        retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
        job_timeout=DELIVERY_JOB_TIMEOUT,
        result_ttl=3600,
        description=f"deliver email {message_id}",
    )


def _hand_over(message_id):
    try:
        _enqueue_delivery(get_queue("default"), message_id)
    except Exception:
        # The message is committed with status "queued"; the outbox shows it was not handed over.
        log.exception("could not queue delivery of email %s", message_id)


# --- delivery -----------------------------------------------------------------------------------


def _sender_domain(sender):
    _, address = parseaddr(sender)
    return address.rpartition("@")[2] or "narrative.local"


def build_mime(message, *, sender):
    """The RFC 5322 message for an outbox row; its Message-ID is stable across retries."""
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(message.created_at)
    mime["Message-ID"] = f"<{message.id}@{_sender_domain(sender)}>"
    mime.set_content(message.text_body)
    if message.html_body:
        mime.add_alternative(message.html_body, subtype="html")
    return mime


def transmit(settings, mime):
    """Hand one message to the SMTP server (raises smtplib's errors and OSError)."""
    context = ssl.create_default_context()
    if settings.implicit_tls:
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.starttls:
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(mime)


def _is_permanent(error):
    """5xx answers will not change on retry (unknown mailbox, refused sender, bad credentials)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _describe_error(error):
    if isinstance(error, smtplib.SMTPResponseException):
        detail = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else error.smtp_error
        )
        return f"{error.smtp_code} {detail}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{rcpt}: {code} {text.decode(errors='replace')}"
            for rcpt, (code, text) in error.recipients.items()
        )
    return f"{type(error).__name__}: {error}"


def _retries_remain():
    job = get_current_job()
    return bool(job is not None and job.retries_left)


def deliver_email(message_id):
    """RQ job: send one outbox message over SMTP and record the outcome.

    A temporary failure is recorded and re-raised so RQ retries with backoff; the last attempt, or
    a permanent refusal, leaves the message "failed".

    RQ calls this directly (no request or job runner owns its transaction), so it commits its own
    unit of work; the outcome must be on record before a retry is raised.
    """
    message = db.session.get(EmailMessage, uuid.UUID(str(message_id)))
    if message is None or message.status == SENT:
        return None  # rolled back in a savepoint, or already delivered by an earlier attempt
    settings = smtp_settings()
    if settings is None:
        message.status = LOGGED
        unit_of_work.commit()
        return message.status
    message.attempts += 1
    try:
        transmit(settings, build_mime(message, sender=current_app.config["EMAIL_FROM"]))
    except (smtplib.SMTPException, OSError) as error:
        message.error = _describe_error(error)
        permanent = _is_permanent(error)
        message.status = QUEUED if not permanent and _retries_remain() else FAILED
        unit_of_work.commit()
        log.warning("email %s not delivered (attempt %s): %s", message.id, message.attempts, message.error)
        if permanent:
            return message.status
        raise
    message.status = SENT
    message.sent_at = utcnow()
    message.error = None
    unit_of_work.commit()
    return message.status


# --- reading the outbox -------------------------------------------------------------------------


def latest_messages(*, limit=20, to=None):
    """The newest outbox messages first, optionally for one recipient."""
    query = sa.select(EmailMessage).order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc())
    if to:
        query = query.where(sa.func.lower(EmailMessage.to_address) == to.strip().lower())
    return list(db.session.scalars(query.limit(limit)))


def find_message(reference):
    """A message by its id, or by an unambiguous prefix of the id among the latest 1000."""
    try:
        return db.session.get(EmailMessage, uuid.UUID(reference))
    except ValueError:
        pass
    prefix = reference.strip().lower()
    matches = [m for m in latest_messages(limit=1000) if str(m.id).startswith(prefix)] if prefix else []
    return matches[0] if len(matches) == 1 else None
