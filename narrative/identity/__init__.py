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
    # Nested sub-domains with their own packages.
    from narrative.identity.api_keys.routes import blp as api_keys_blp
    from narrative.identity.roles.routes import blp as roles_blp

    api.register_blueprint(roles_blp)
    api.register_blueprint(api_keys_blp)
    from narrative.identity import members, teams, workspaces

    for subdomain in (workspaces, members, teams):
        subdomain.register_blueprints(api)
    # The organisation assistant family's auth, users and organisation endpoints.
    from narrative.identity.routes.assistant import blp as assistant_blp

    api.register_blueprint(assistant_blp)
