"""Teams: groups of workspace members, each with a role in the team (lead or member)."""


def register_blueprints(api):
    from narrative.identity.teams.routes import blp

    api.register_blueprint(blp)
