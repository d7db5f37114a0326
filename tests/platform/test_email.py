"""Email: the outbox row is part of the caller's transaction; SMTP delivery follows the commit."""

import socket
import uuid
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from narrative.extensions import db, get_queue
from narrative.identity.models import Workspace
from narrative.platform import email as mail
from narrative.platform.email import EmailMessage, deliver_email, parse_smtp_url, send_email
from narrative.platform.errors import ValidationFailed
from workers.worker import run_jobs_in_process


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps what it receives, or refuses every recipient."""

    def __init__(self, refuse_with=None):
        self.received = []
        self.refuse_with = refuse_with

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "message": message_from_bytes(envelope.content, policy=policy.default),
            }
        )
        return "250 Message accepted for delivery"


LOGINS = []


def accept_user(server, session, envelope, mechanism, auth_data):
    LOGINS.append(auth_data.login)
    # handled=False: aiosmtpd answers a refusal with its standard 535.
    return AuthResult(
        success=auth_data.login == b"mailer" and auth_data.password == b"p@ss word", handled=False
    )


@pytest.fixture
def smtp_server(app, monkeypatch):
    """A real SMTP server on loopback; SMTP_URL points at it for the test."""
    servers = []

    def start(handler=None, *, url_credentials="", **options):
        handler = handler or Inbox()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        servers.append(controller)
        monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://{url_credentials}127.0.0.1:{port}")
        monkeypatch.setitem(app.config, "SMTP_TIMEOUT_SECONDS", 5)
        return handler

    yield start
    for controller in servers:
        controller.stop()


@pytest.fixture
def workspace(app):
    ws = Workspace(name="Acme", slug=f"acme-{uuid.uuid4().hex[:8]}")
    db.session.add(ws)
    db.session.commit()
    return ws


def outbox():
    db.session.expire_all()
    return list(db.session.scalars(db.select(EmailMessage).order_by(EmailMessage.created_at)))


def test_without_smtp_the_message_is_logged_in_the_outbox(app, workspace):
    message = send_email(
        to="ada@example.com",
        subject="Activate your account",
        text="Open http://localhost/activate?token=abc",
        workspace_id=workspace.id,
        kind="activation",
    )
    db.session.commit()
    [kept] = outbox()
    assert kept.id == message.id
    assert kept.status == "logged"
    assert kept.to_address == "ada@example.com"
    assert kept.kind == "activation"
    assert kept.workspace_id == workspace.id
    assert get_queue("default").count == 0


def test_message_belongs_to_the_callers_transaction(app):
    send_email(to="ada@example.com", subject="Welcome", text="Hello")
    assert len(outbox()) == 1  # visible inside the transaction
    db.session.rollback()
    assert outbox() == []


def test_rolled_back_message_is_never_queued(app, smtp_server):
    smtp_server()
    send_email(to="ada@example.com", subject="Welcome", text="Hello")
    db.session.rollback()
    assert get_queue("default").count == 0


def test_message_is_queued_only_after_commit(app, smtp_server):
    smtp_server()
    message = send_email(to="ada@example.com", subject="Welcome", text="Hello")
    assert message.status == "queued"
    assert get_queue("default").count == 0
    db.session.commit()
    assert get_queue("default").count == 1


def test_smtp_delivery_reaches_a_real_server(app, smtp_server, monkeypatch):
    inbox = smtp_server()
    monkeypatch.setitem(app.config, "EMAIL_FROM", "Narrative <hello@narrative.test>")
    message = send_email(
        to="ada@example.com",
        subject="Reset your password",
        text="Follow http://localhost/reset?token=xyz",
        html="<p>Follow <a href='http://localhost/reset?token=xyz'>this link</a></p>",
        kind="password_reset",
    )
    db.session.commit()
    run_jobs_in_process(app)

    [received] = inbox.received
    assert received["from"] == "hello@narrative.test"
    assert received["to"] == ["ada@example.com"]
    mime = received["message"]
    assert mime["From"] == "Narrative <hello@narrative.test>"
    assert mime["To"] == "ada@example.com"
    assert mime["Subject"] == "Reset your password"
    assert mime["Message-ID"] == f"<{message.id}@narrative.test>"
    assert mime["Date"]
    assert "token=xyz" in mime.get_body(("plain",)).get_content()
    assert "<a href=" in mime.get_body(("html",)).get_content()

    [sent] = outbox()
    assert sent.status == "sent"
    assert sent.attempts == 1
    assert sent.sent_at is not None
    assert sent.error is None


def test_smtp_login_with_url_credentials(app, smtp_server):
    LOGINS.clear()
    inbox = smtp_server(
        url_credentials="mailer:p%40ss%20word@", authenticator=accept_user, auth_require_tls=False
    )
    send_email(to="bob@example.com", subject="Hi", text="Hello Bob")
    db.session.commit()
    run_jobs_in_process(app)
    assert len(inbox.received) == 1
    assert LOGINS == [b"mailer"]
    assert outbox()[0].status == "sent"


def test_wrong_credentials_fail_without_retrying(app, smtp_server):
    smtp_server(url_credentials="mailer:wrong@", authenticator=accept_user, auth_require_tls=False)
    send_email(to="bob@example.com", subject="Hi", text="Hello Bob")
    db.session.commit()
    run_jobs_in_process(app)
    [failed] = outbox()
    assert failed.status == "failed"
    assert failed.error.startswith("535")


def test_refused_recipient_is_a_permanent_failure(app, smtp_server):
    smtp_server(Inbox(refuse_with="550 5.1.1 No such user here"))
    message = send_email(to="nobody@example.com", subject="Hi", text="Hello")
    db.session.commit()
    assert deliver_email(str(message.id)) == "failed"
    [failed] = outbox()
    assert failed.status == "failed"
    assert "550" in failed.error
    assert failed.attempts == 1


def test_unreachable_server_is_retried_then_failed(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    send_email(to="ada@example.com", subject="Hi", text="Hello")
    db.session.commit()
    run_jobs_in_process(app)
    [waiting] = outbox()
    # RQ scheduled a later attempt, so the message is still queued, with the reason recorded.
    assert waiting.status == "queued"
    assert waiting.attempts == 1
    assert "ConnectionRefused" in waiting.error
    # The last attempt (no retries left) records the failure.
    with pytest.raises(OSError):
        deliver_email(str(waiting.id))
    [failed] = outbox()
    assert failed.status == "failed"
    assert failed.attempts == 2


def test_recipient_must_be_one_plain_address(app):
    for bad in ["", "not-an-address", "a@x.io, b@y.io", "a@x.io\r\nBcc: c@z.io", "Ada <a@x.io>"]:
        with pytest.raises(ValidationFailed) as refused:
            send_email(to=bad, subject="Hi", text="Hello")
        assert refused.value.details[0]["field"] == "to"
    message = send_email(to=" ada@example.com ", subject="Line one\r\nBcc: x@y.z", text="Hello")
    assert message.to_address == "ada@example.com"
    assert message.subject == "Line one Bcc: x@y.z"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay.local", ("relay.local", 25, None, None, False, False)),
        ("smtp://u:p@mail.example.com:587?starttls=1", ("mail.example.com", 587, "u", "p", False, True)),
        ("smtp://u:p@mail.example.com?starttls=true", ("mail.example.com", 587, "u", "p", False, True)),
        ("smtps://me%40x.io:s%3Acret@smtp.x.io", ("smtp.x.io", 465, "me@x.io", "s:cret", True, False)),
    ],
)
def test_parse_smtp_url(url, expected):
    settings = parse_smtp_url(url)
    assert (
        settings.host,
        settings.port,
        settings.username,
        settings.password,
        settings.implicit_tls,
        settings.starttls,
    ) == expected


def test_parse_smtp_url_refuses_other_schemes():
    with pytest.raises(ValueError):
        parse_smtp_url("http://mail.example.com")


def test_outbox_command_lists_and_shows_messages(app, cli):
    send_email(to="ada@example.com", subject="Activate your account", text="Open http://x/activate?t=1")
    second = send_email(to="bob@example.com", subject="Reset your password", text="Open http://x/reset?t=2")
    db.session.commit()

    listing = cli.invoke(args=["narrative", "outbox"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.strip().splitlines()
    assert len(lines) == 2
    assert "bob@example.com" in lines[0] and "Reset your password" in lines[0] and "logged" in lines[0]
    assert "ada@example.com" in lines[1]

    only_ada = cli.invoke(args=["narrative", "outbox", "--to", "ADA@example.com"])
    assert "ada@example.com" in only_ada.output and "bob@" not in only_ada.output
    assert len(cli.invoke(args=["narrative", "outbox", "--limit", "1"]).output.strip().splitlines()) == 1

    # A prefix past the id's millisecond timestamp: both emails may be sent in the same millisecond.
    shown = cli.invoke(args=["narrative", "outbox", "--show", str(second.id)[:23]])
    assert shown.exit_code == 0, shown.output
    assert "http://x/reset?t=2" in shown.output
    assert "To:       bob@example.com" in shown.output

    missing = cli.invoke(args=["narrative", "outbox", "--show", str(uuid.uuid4())])
    assert missing.exit_code != 0
    assert "No message" in missing.output


def test_outbox_command_on_an_empty_outbox(app, cli):
    result = cli.invoke(args=["narrative", "outbox"])
    assert result.exit_code == 0
    assert "empty" in result.output


def test_delivery_job_skips_messages_already_sent(app, smtp_server):
    inbox = smtp_server()
    message = send_email(to="ada@example.com", subject="Hi", text="Hello")
    db.session.commit()
    assert deliver_email(str(message.id)) == "sent"
    assert deliver_email(str(message.id)) is None
    assert len(inbox.received) == 1
    assert mail.latest_messages(limit=5)[0].attempts == 1
