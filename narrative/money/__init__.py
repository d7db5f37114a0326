"""Money: a small business owner's metric cards, prioritised money actions and growth opportunities,
computed from their bank ledger (narrative.banking.ledger) as of a date. Pure rules live in
metrics.py, actions.py and growth.py; service.py loads the ledger and applies the owner's decisions.
"""

from narrative.money import models, permissions  # noqa: F401  (registered at import)


def register_blueprints(api):
    from narrative.money import routes

    api.register_blueprint(routes.blp)
