"""The `flask narrative ...` command group; each domain attaches its own commands."""

from types import SimpleNamespace

import click
from flask.cli import AppGroup

from narrative.platform import unit_of_work
from narrative.platform.tenancy import all_workspaces


def seed_demo_data(domains):
    """Run every domain's demo seed in order; each is idempotent. Returns the demo context."""
    demo = SimpleNamespace(user=None, workspace=None, created=False)
    with all_workspaces():  # seeding creates workspaces and fills them
        for domain in domains:
            seed = getattr(domain, "seed_demo", None)
            if seed is not None:
                seed(demo)
        unit_of_work.commit()
    return demo


@click.pass_context
def _administer_all_workspaces(ctx):
    """Administration commands act on any workspace they are told to: tenancy is lifted for them."""
    ctx.with_resource(all_workspaces())


def build_cli(domains):
    group = AppGroup(
        "narrative",
        help="Narrative administration: seeding, users, keys.",
        callback=_administer_all_workspaces,
    )

    @group.command("seed")
    def seed_command():
        """Fill the demo workspace (safe to run again)."""
        demo = seed_demo_data(domains)
        state = "created" if demo.created else "already present"
        click.echo(f"Demo workspace {demo.workspace.name!r} {state}; login {demo.user.email}")

    for domain in domains:
        register = getattr(domain, "register_cli", None)
        if register is not None:
            register(group)
    return group
