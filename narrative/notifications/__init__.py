"""Notifications: per-user and broadcast, made from domain events (consumer "notifications"),
with a live SSE stream, per-type channel preferences and email (instant or digest)."""

from narrative.notifications import routes, service  # noqa: F401  (consumer, digest job)


def register_blueprints(api):
    api.register_blueprint(routes.blp)
