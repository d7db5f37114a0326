"""Conversations: one store of chats, messages, folders and participants that the core chat, the
assistant and the studio all speak to, with AI replies streamed from a job.
"""

from narrative.conversations import jobs, routes, routes_assistant, routes_studio, seed  # noqa: F401  (jobs: sweep)

seed_demo = seed.seed_demo


def register_blueprints(api):
    api.register_blueprint(routes.blp)
    api.register_blueprint(routes_assistant.blp)
    api.register_blueprint(routes_studio.blp)
