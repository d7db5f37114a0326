"""The finance coach of the SDK family: its bootstrap state and chat sessions, whose replies are the
platform's reply job grounded on the owner's money metrics and actions (narrative.coach.grounding).
"""

from narrative.coach import grounding
from narrative.conversations.jobs import register_grounding

register_grounding(grounding.COACH_CONTEXT, grounding.ground)


def register_blueprints(api):
    from narrative.coach import routes

    api.register_blueprint(routes.blp)
