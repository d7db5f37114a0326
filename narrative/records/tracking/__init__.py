"""Record tracking: insights about records (computed facts worded by the AI layer), the log of
interactions with them, their tasks (narrative.tasks), a recordset dashboard, AI analysis,
message drafts and follow-up suggestions. Registered by narrative.records.register_blueprints.
"""

from narrative.records.tracking import events, models  # noqa: F401  (event types, tables)
from narrative.tasks import models as task_models  # noqa: F401  (the tasks table: create_all, Alembic)


def register_blueprints(api):
    from narrative.records.tracking import routes

    api.register_blueprint(routes.blp)
