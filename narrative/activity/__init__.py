"""The activity feed: every domain event a person caused (consumer "activity"), with filters,
stats and exports (CSV / JSON lines) as jobs with progress and signed downloads."""

from narrative.activity import routes, service  # noqa: F401  (the consumer)


def register_blueprints(api):
    api.register_blueprint(routes.blp)
    api._app.register_blueprint(routes.extra)  # the export progress stream: not a catalog entry
