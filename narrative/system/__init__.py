"""Health, API information, metrics and the API documentation pages."""

from narrative.system.routes import blp


def register_blueprints(api):
    api.register_blueprint(blp)
