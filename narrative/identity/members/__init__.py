"""Members of a workspace: listing, profiles, onboarding tours, offboarding (reassign, remove, delete).

Other domains declare what members own with `ownership.register_owned_items`.
"""


def register_blueprints(api):
    from narrative.identity.members.routes import blp

    api.register_blueprint(blp)
