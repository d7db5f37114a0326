"""The workspace project model and its small service."""

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.errors import NotFound
from narrative.projects import service
from narrative.projects.models import GROWTH_OPPORTUNITY, Project
from tests.identity.factories import make_user, workspace_of


@pytest.fixture
def two_workspaces(app):
    first, second = make_user(), make_user()
    return first, workspace_of(first), workspace_of(second)


def test_create_get_and_find_by_source(two_workspaces):
    user, mine, other = two_workspaces
    project = service.create_project(
        workspace_id=mine.id,
        name="  Upsell Beta  ",
        description="Offer more",
        created_by_id=user.id,
        source_type=GROWTH_OPPORTUNITY,
        source_id="opp_0123456789abcdef",
        client_id="client-42",
    )
    db.session.commit()
    assert (project.name, project.status, project.is_active, project.client_id) == (
        "Upsell Beta",
        "active",
        True,
        "client-42",
    )
    assert service.get_project(workspace_id=mine.id, project_id=str(project.id)) is project
    with pytest.raises(NotFound):
        service.get_project(workspace_id=other.id, project_id=project.id)
    with pytest.raises(NotFound):
        service.get_project(workspace_id=mine.id, project_id="not-an-id")
    found = service.find_by_source(
        workspace_id=mine.id, source_type=GROWTH_OPPORTUNITY, source_id="opp_0123456789abcdef"
    )
    assert found is project
    assert (
        service.find_by_source(
            workspace_id=other.id, source_type=GROWTH_OPPORTUNITY, source_id="opp_0123456789abcdef"
        )
        is None
    )


def test_one_project_per_source_and_any_number_without_one(two_workspaces):
    _user, mine, other = two_workspaces
    source = {"source_type": GROWTH_OPPORTUNITY, "source_id": "opp_aaaaaaaaaaaaaaaa"}
    first, created = service.get_or_create_from_source(workspace_id=mine.id, name="A", **source)
    again, created_again = service.get_or_create_from_source(workspace_id=mine.id, name="B", **source)
    theirs, created_theirs = service.get_or_create_from_source(workspace_id=other.id, name="C", **source)
    assert created and not created_again and created_theirs
    assert again is first and theirs is not first
    service.create_project(workspace_id=mine.id, name="Manual 1")
    service.create_project(workspace_id=mine.id, name="Manual 2")
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        service.create_project(workspace_id=mine.id, name="Dup", **source)
    count = db.session.scalar(sa.select(sa.func.count(Project.id)).where(Project.workspace_id == mine.id))
    assert count == 3


def test_an_unknown_status_is_refused(two_workspaces):
    _user, mine, _other = two_workspaces
    with pytest.raises(ValueError):
        service.create_project(workspace_id=mine.id, name="X", status="someday")
