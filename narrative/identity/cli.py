"""`flask narrative create-user` and `create-api-key`."""

import click

from narrative.identity.service import create_api_key, create_user, find_user_by_email
from narrative.platform import unit_of_work
from narrative.platform.errors import ApiError


def register_cli(group):
    @group.command("create-user")
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--name", default=None)
    @click.option("--workspace", "workspace_name", default=None, help="Join this workspace, or create it.")
    @click.option("--admin", is_flag=True, help="Make the user a platform administrator.")
    def create_user_command(email, password, name, workspace_name, admin):
        """Create a user (and their workspace)."""
        try:
            user = create_user(
                email=email, password=password, name=name, workspace_name=workspace_name, platform_admin=admin
            )
        except ApiError as exc:
            raise click.ClickException(_describe(exc)) from None
        unit_of_work.commit()
        membership = user.memberships[0]
        click.echo(f"Created {user.email} ({membership.role} of {membership.workspace.name!r}, id {user.id})")

    @group.command("create-api-key")
    @click.option("--email", required=True)
    @click.option("--name", default="CLI key")
    def create_api_key_command(email, name):
        """Create an sk_ API key for a user's workspace; the key is printed once."""
        user = find_user_by_email(email)
        if user is None:
            raise click.ClickException(f"No user with email {email}")
        try:
            key, raw_key = create_api_key(user=user, name=name)
        except ApiError as exc:
            raise click.ClickException(_describe(exc)) from None
        unit_of_work.commit()
        click.echo(raw_key)
        click.echo(f"(key {key.id} for workspace {key.workspace_id}; it will not be shown again)", err=True)


def _describe(exc):
    parts = [exc.message] + [f"{d['field']}: {d['message']}" for d in exc.details or []]
    return " ".join(parts)
