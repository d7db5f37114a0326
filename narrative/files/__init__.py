"""Files and mail plumbing seen from outside: the signed download route and the outbox command.

The services themselves are platform modules (narrative.platform.storage, narrative.platform.email);
this package only exposes them over HTTP and the CLI.
"""

from narrative.files import cli, routes

register_cli = cli.register_cli


def register_blueprints(api):
    """The download route is deliberately not an OpenAPI operation: it is no catalog endpoint, and
    its link's signature, not a login, is what authorises it. So its plain Flask blueprint goes on
    the app directly rather than through the documented API (whose `_app` is that app).
    """
    api._app.register_blueprint(routes.downloads)
