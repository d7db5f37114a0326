"""Outgoing webhooks: endpoints people register, fed by the domain-event outbox (consumer
"webhooks"), delivered as signed Standard Webhooks messages with retries and a delivery log.
"""

from narrative.webhooks import delivery, routes, service  # noqa: F401  (consumer, periodic sweep)


def register_blueprints(api):
    api.register_blueprint(routes.blp)
    api._app.register_blueprint(routes.extra)  # redelivery: not a catalog entry, not in OpenAPI
