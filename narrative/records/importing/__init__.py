"""Imports, exports and geocoding of recordsets: file analysis, streamed import jobs with
checkpoints and error reports, exports as jobs, and geocoding (Google, or an offline gazetteer).
"""


def register_blueprints(api):
    from narrative.records.importing import routes

    api.register_blueprint(routes.blp)
    api._app.register_blueprint(routes.extra)  # job streams and the direct upload: beyond the catalog
