"""Workspaces: the tenant. Creating and switching, settings, invitations, admin password help."""


def register_blueprints(api):
    from narrative.identity.workspaces.routes import blp

    api.register_blueprint(blp)
