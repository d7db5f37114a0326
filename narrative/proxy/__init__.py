"""The API proxy (the narrowapi family): actions, execution tokens, executions and `/x/{action_id}`.

A workspace describes an upstream endpoint once (an action, with its secret headers encrypted),
hands a third party a narrow, revocable `sxt_` token for it, and sees every call in the
executions log; plan limits cap active actions and monthly executions.
"""

from narrative.platform.caller import register_resolver
from narrative.proxy import routes, seed
from narrative.proxy.proxy import resolve_execution_token

seed_demo = seed.seed_demo


def register_blueprints(api):
    register_resolver(resolve_execution_token)
    api.register_blueprint(routes.blp)
