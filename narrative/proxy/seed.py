"""Demo data for the API proxy: the plan rows and one example action in the demo workspace."""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.proxy import service
from narrative.proxy.models import Action

EXAMPLE_NAME = "Example: echo a request"


def seed_demo(demo):
    service.ensure_default_plans()
    if demo.workspace is None:
        return
    exists = db.session.scalar(
        sa.select(Action.id).where(Action.workspace_id == demo.workspace.id, Action.name == EXAMPLE_NAME)
    )
    if exists is None:
        db.session.add(
            Action(
                workspace_id=demo.workspace.id,
                created_by_id=demo.user.id if demo.user else None,
                name=EXAMPLE_NAME,
                description="Forwards the body to httpbin.org, which echoes it back. Issue a token to try it.",
                target_url="https://httpbin.org/anything",
                method="POST",
                headers_preview={},
            )
        )
