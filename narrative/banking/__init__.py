"""The bank ledger of workspace members: connections, accounts, transactions and their categories.

Sources write through `narrative.banking.service` (SaltEdge sync and statement import live in
narrative.integrations; the demo data in `seed`); metrics, actions, growth and the coach read
through `narrative.banking.ledger`.
"""

from narrative.banking import models, permissions  # noqa: F401  (tables and permissions registered at import)


def register_blueprints(api):
    from narrative.banking import routes

    api._app.register_blueprint(routes.extra)  # ledger browsing and corrections: beyond the catalog


def seed_demo(demo):
    from narrative.banking.seed import seed_demo as seed

    seed(demo)
