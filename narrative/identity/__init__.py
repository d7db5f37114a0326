"""Identity and access: users, workspaces, members, API keys."""

from narrative.identity import cli, seed

register_cli = cli.register_cli
seed_demo = seed.seed_demo


def register_blueprints(api):
    """Identity's HTTP endpoints arrive with the identity issue; the models and CLI are here now."""
