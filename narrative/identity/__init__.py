"""Identity and access: users, workspaces, members, roles, teams, sessions and API keys.

The guide for other domains is /work/notes/identity-core.md; in short: `access.require` on every
view, `access.current_user/current_workspace/current_member`, `platform.tenancy` for queries,
`permissions.register_permissions` for a domain's own permissions.
"""

from narrative.identity import access, cli, seed

register_cli = cli.register_cli
seed_demo = seed.seed_demo


def register_blueprints(api):
    """Identity's endpoints, and its credential resolver (JWTs, `sk_` keys) for every family."""
    access.register()
    from narrative.identity.routes import BLUEPRINTS

    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
