"""The app the import benchmark's worker and API use: the real app, plus the import routes while
narrative.records is not yet one of the app's domains."""

from narrative.app import DOMAINS, create_app


def add_import_routes(app):
    if any(getattr(domain, "__name__", "") == "narrative.records" for domain in DOMAINS):
        return app
    from narrative.records.importing import routes

    if "records_import" not in app.blueprints:
        app.register_blueprint(routes.blp)
    return app


def create_import_app():
    return create_app()
