"""Records and recordsets: the workspace's typed tables (fields, views, filters), their records
with comments, version history, relationships and attachments. CRM, deals, maps, analytics,
imports and exports build on `narrative.records.service` and `narrative.records.models`.
"""

from narrative.records import events, permissions  # noqa: F401  (registered at import)


def register_blueprints(api):
    from narrative.records import routes

    api.register_blueprint(routes.blp)
    from narrative.records import importing

    importing.register_blueprints(api)
    from narrative.records import tracking  # record tracking: insights, interactions, tasks

    tracking.register_blueprints(api)
