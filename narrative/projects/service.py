"""Projects: create one, read one, find the one a source (an opportunity, ...) already became.

Keyword-only functions. Reads see the workspace in scope (the request's, the job's, or a
`workspace_scope`); a new project names its workspace explicitly.
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.tenancy import get_or_404
from narrative.projects.models import ACTIVE, STATUSES, Project


def create_project(
    *,
    workspace_id,
    name,
    created_by_id=None,
    description=None,
    status=ACTIVE,
    client_id=None,
    source_type=None,
    source_id=None,
):
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    project = Project(
        workspace_id=workspace_id,
        name=name.strip()[:200],
        description=description,
        status=status,
        is_active=status == ACTIVE,
        client_id=client_id,
        source_type=source_type,
        source_id=source_id,
        created_by_id=created_by_id,
    )
    db.session.add(project)
    db.session.flush()
    return project


def get_project(project_id):
    """The workspace's project, or 404 (another workspace's project, a malformed id too)."""
    return get_or_404(Project, project_id, message="Project not found.")


def find_by_source(*, source_type, source_id):
    return db.session.scalar(
        sa.select(Project).where(Project.source_type == source_type, Project.source_id == source_id)
    )


def get_or_create_from_source(*, workspace_id, source_type, source_id, **fields):
    """(project, created): the project this source already became, else a new one.

    Two concurrent calls for one source meet at the unique index: the loser finds the winner's row.
    """
    existing = find_by_source(source_type=source_type, source_id=source_id)
    if existing is not None:
        return existing, False
    try:
        # A savepoint: losing the race undoes only this insert, not the caller's unit of work.
        with db.session.begin_nested():
            project = create_project(
                workspace_id=workspace_id, source_type=source_type, source_id=source_id, **fields
            )
    except sa.exc.IntegrityError:
        existing = find_by_source(source_type=source_type, source_id=source_id)
        if existing is None:
            raise
        return existing, False
    return project, True
