"""The workspace project model and its small service."""

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.errors import NotFound
from narrative.platform.tenancy import workspace_scope
from narrative.projects import service
from narrative.projects.models import GROWTH_OPPORTUNITY, Project
from tests.identity.factories import make_user, workspace_of

SOURCE = {"source_type": GROWTH_OPPORTUNITY, "source_id": "opp_aaaaaaaaaaaaaaaa"}


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
    source = {"source_type": GROWTH_OPPORTUNITY, "source_id": "opp_0123456789abcdef"}
    with workspace_scope(mine.id):
        assert service.get_project(str(project.id)) is project
        assert service.find_by_source(**source) is project
        with pytest.raises(NotFound):
            service.get_project("not-an-id")
    with workspace_scope(other.id):
        with pytest.raises(NotFound):
            service.get_project(project.id)
        assert service.find_by_source(**source) is None


def test_one_project_per_source_and_any_number_without_one(two_workspaces):
    _user, mine, other = two_workspaces
    with workspace_scope(mine.id):
        first, created = service.get_or_create_from_source(workspace_id=mine.id, name="A", **SOURCE)
        again, created_again = service.get_or_create_from_source(workspace_id=mine.id, name="B", **SOURCE)
    with workspace_scope(other.id):
        theirs, created_theirs = service.get_or_create_from_source(workspace_id=other.id, name="C", **SOURCE)
    assert created and not created_again and created_theirs
    assert again is first and theirs is not first
    service.create_project(workspace_id=mine.id, name="Manual 1")
    service.create_project(workspace_id=mine.id, name="Manual 2")
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        service.create_project(workspace_id=mine.id, name="Dup", **SOURCE)
    count = db.session.scalar(sa.select(sa.func.count(Project.id)).where(Project.workspace_id == mine.id))
    assert count == 3


def test_losing_the_race_returns_the_winner_and_keeps_the_rest_of_the_work(two_workspaces, monkeypatch):
    _user, mine, _other = two_workspaces
    winner = service.create_project(workspace_id=mine.id, name="Winner", **SOURCE)
    db.session.commit()
    # The race: our check ran before the winner's row was committed, so it saw nothing.
    real_find = service.find_by_source
    calls = []

    def find_before_the_winner_committed(**criteria):
        calls.append(criteria)
        return None if len(calls) == 1 else real_find(**criteria)

    monkeypatch.setattr(service, "find_by_source", find_before_the_winner_committed)
    with workspace_scope(mine.id):
        earlier_work = service.create_project(workspace_id=mine.id, name="Earlier in the same request")
        project, created = service.get_or_create_from_source(workspace_id=mine.id, name="Loser", **SOURCE)
    assert (project, created) == (winner, False) and len(calls) == 2
    db.session.commit()  # only the losing insert was undone (a savepoint), not the earlier work
    names = db.session.scalars(sa.select(Project.name).where(Project.workspace_id == mine.id)).all()
    assert sorted(names) == ["Earlier in the same request", "Winner"]
    assert earlier_work.id is not None


def test_an_unknown_status_is_refused(two_workspaces):
    _user, mine, _other = two_workspaces
    with pytest.raises(ValueError):
        service.create_project(workspace_id=mine.id, name="X", status="someday")
