"""`flask narrative outbox`: what the platform sent (or, without SMTP, would have sent)."""

import click

from narrative.platform.email import find_message, latest_messages


def _list(limit, to):
    messages = latest_messages(limit=limit, to=to)
    if not messages:
        click.echo("The outbox is empty." if not to else f"No messages to {to}.")
        return
    for message in messages:
        when = message.created_at.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{when}  {message.status:<7} {message.to_address}  {message.subject}  [{message.id}]")


def _show(reference):
    message = find_message(reference)
    if message is None:
        raise click.ClickException(f"No message {reference!r} (give its id, or an unambiguous start of it).")
    click.echo(f"Id:       {message.id}")
    click.echo(f"To:       {message.to_address}")
    click.echo(f"Subject:  {message.subject}")
    click.echo(f"Kind:     {message.kind or '-'}")
    click.echo(f"Created:  {message.created_at.isoformat()}")
    sent = f", sent {message.sent_at.isoformat()}" if message.sent_at else ""
    click.echo(f"Status:   {message.status} ({message.attempts} attempts{sent})")
    if message.error:
        click.echo(f"Error:    {message.error}")
    click.echo("")
    click.echo(message.text_body)
    if message.html_body:
        click.echo(f"\n(an HTML alternative of {len(message.html_body)} characters is attached)")


def register_cli(group):
    @group.command("outbox")
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
    @click.option("--to", default=None, help="Only messages to this address.")
    @click.option("--show", "show_id", default=None, metavar="ID", help="Print one message in full.")
    def outbox_command(limit, to, show_id):
        """List the latest outgoing emails, or print one with --show ID."""
        if show_id:
            _show(show_id)
        else:
            _list(limit, to)
