"""Connections of workspace members to outside services (`Integration` rows, `GET /api/integrations`),
the SaltEdge bank adapter with its signed callback and sync job, and bank statement imports
(CSV with a column mapping, OFX) as jobs. The data they bring lands in narrative.banking.
"""

from narrative.integrations import models  # noqa: F401  (the integrations table)


def register_blueprints(api):
    from narrative.integrations import routes

    api.register_blueprint(routes.blp)
    api._app.register_blueprint(routes.extra)  # callbacks, sync, imports, job streams: beyond the catalog
