"""Tenancy by construction: the session itself keeps every query inside the current workspace.

A model that belongs to a workspace says so once, by inheriting `WorkspaceScoped` (it has a
`workspace_id` column). From then on, with no code in the query:

- every ORM SELECT, UPDATE and DELETE that touches it, including joins and relationship loads, is
  limited to the current workspace (`do_orm_execute` adds `with_loader_criteria`);
- `db.session.get(Model, id)` is None for another workspace's row, even one already loaded;
- a new row for another workspace is refused at flush (a programming error, never data).

The current workspace is the request caller's (the token's, the `x-workspace-id` header's after
identity's membership check, the API key's), the job's while a job runs (`run_job`), or one set
with `workspace_scope(id)`. A query of a workspace-owned model with no current workspace fails
closed: 401 for an anonymous request, 403 `workspace_required` for a caller without a workspace,
`TenancyError` outside a request.

Crossing workspaces is explicit and greppable: `with all_workspaces():`, used by credential lookups
(the caller is not known yet), platform administration, the outbox and schedulers, and public share
links. `grep -rn "all_workspaces()" narrative` lists every such place.

    team = get_or_404(Team, team_id)                # another workspace's team: 404, like a random id
    teams = db.session.scalars(sa.select(Team)).all()   # only the current workspace's
"""

import contextvars
import uuid
from contextlib import contextmanager

import sqlalchemy as sa
from flask import has_request_context, request
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, with_loader_criteria

from narrative.platform.caller import current_caller
from narrative.platform.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from narrative.platform.models import parse_uuid


class WorkspaceScoped:
    """Marks a model whose rows belong to one workspace (its `workspace_id`).

    Each model declares its own `workspace_id` (foreign key, nullability, index), which takes the
    place of this one; this declaration is what the loader criteria are written against.
    """

    __display_name__ = None
    workspace_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)


class WorkspaceRequired(Forbidden):
    code = "workspace_required"
    message = "Choose a workspace for this request (x-workspace-id header)."


class TenancyError(RuntimeError):
    """Workspace-owned rows were read or written with no workspace in scope (a programming error)."""


class _AllWorkspaces:
    def __repr__(self):
        return "ALL_WORKSPACES"


ALL_WORKSPACES = _AllWorkspaces()
_UNSET = object()
_ENVIRON_KEY = "narrative.workspace_scope"
# Outside a request (jobs, CLI, scheduler, tests' own set-up code); inside one, the request
# environment holds the override, so a scope left by the code that sent a test request never
# leaks into the request.
_scope = contextvars.ContextVar("narrative_workspace_scope", default=None)


def _override():
    if has_request_context():
        return request.environ.get(_ENVIRON_KEY)
    return _scope.get()


@contextmanager
def _scoped_to(value):
    if has_request_context():
        previous = request.environ.get(_ENVIRON_KEY)
        request.environ[_ENVIRON_KEY] = value
        try:
            yield
        finally:
            request.environ[_ENVIRON_KEY] = previous
        return
    token = _scope.set(value)
    try:
        yield
    finally:
        _scope.reset(token)


def all_workspaces():
    """Lift workspace scoping inside the block: for the few places that must cross workspaces."""
    return _scoped_to(ALL_WORKSPACES)


def all_workspaces_for_this_request():
    """Lift scoping for the rest of the current request: a `before_request` hook of a blueprint
    whose every route crosses workspaces (platform administration)."""
    request.environ[_ENVIRON_KEY] = ALL_WORKSPACES


def workspace_scope(workspace_id):
    """Scope the block to `workspace_id` (a job step, a seed, a scheduler's per-workspace work)."""
    if workspace_id is None:
        raise ValueError("workspace_scope needs a workspace id; use all_workspaces() to cross them")
    return _scoped_to(parse_uuid(workspace_id))


def scope(*, required=True):
    """The workspace id in scope, `ALL_WORKSPACES`, or None (only when `required` is false)."""
    override = _override()
    if override is not None:
        return override
    if has_request_context():
        caller = current_caller()
        if caller is not None and caller.workspace_id is not None:
            return caller.workspace_id
        if not required:
            return None
        raise Unauthorized() if caller is None else WorkspaceRequired()
    if not required:
        return None
    raise TenancyError("workspace-owned rows used with no workspace in scope")


def current_workspace_id():
    """The request's (or job's) workspace id; 401 when anonymous, 403 when the caller has none."""
    value = scope()
    if value is ALL_WORKSPACES:
        raise TenancyError("current_workspace_id() inside all_workspaces(): pass the workspace explicitly")
    return value


def _is_scoped(mapper):
    return mapper is not None and issubclass(mapper.class_, WorkspaceScoped)


@event.listens_for(Session, "do_orm_execute")
def _limit_to_current_workspace(state):
    if not (state.is_select or state.is_update or state.is_delete):
        return
    # Relationship and column loads inherit the criteria of the query that loaded their parent.
    if state.is_relationship_load or state.is_column_load:
        return
    required = any(_is_scoped(mapper) for mapper in state.all_mappers)
    workspace_id = scope(required=required)
    if workspace_id is None or workspace_id is ALL_WORKSPACES:
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            WorkspaceScoped,
            lambda cls: cls.workspace_id == workspace_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _new_rows_stay_in_their_workspace(session, flush_context, instances):
    created = [row for row in session.new if isinstance(row, WorkspaceScoped)]
    if not created:
        return
    workspace_id = scope(required=False)
    if workspace_id is None or workspace_id is ALL_WORKSPACES:
        return
    for row in created:
        if row.workspace_id is not None and row.workspace_id != workspace_id:
            raise TenancyError(f"a new {type(row).__name__} names another workspace than the one in scope")


class TenantSession(FlaskSession):
    """The session of `db`: `get` never returns another workspace's row from the identity map."""

    def get(self, entity, ident, **kwargs):
        row = super().get(entity, ident, **kwargs)
        if row is None or not isinstance(row, WorkspaceScoped):
            return row
        workspace_id = scope()
        if workspace_id is not ALL_WORKSPACES and row.workspace_id != workspace_id:
            return None
        return row


# --- resolving client-supplied ids -----------------------------------------------------------


def _coerce_id(model, object_id):
    column_type = model.__table__.c.id.type
    if isinstance(column_type, sa.Uuid):
        return parse_uuid(object_id)
    if isinstance(column_type, sa.Integer):
        try:
            value = int(object_id)
        except (TypeError, ValueError):
            return None
        return value if -(2**63) <= value < 2**63 else None
    return object_id if isinstance(object_id, str) else None


def _display_name(model):
    return getattr(model, "__display_name__", None) or model.__name__


def find(model, object_id):
    """The `model` row with this id in scope, or None (also for a malformed id)."""
    from narrative.extensions import db

    coerced = _coerce_id(model, object_id)
    if coerced is None:
        return None
    return db.session.get(model, coerced)


def get_or_404(model, object_id, *, message=None):
    """The `model` row with this id in the current workspace, or 404 (also for malformed ids)."""
    row = find(model, object_id)
    if row is None:
        raise NotFound(message or f"{_display_name(model)} not found.")
    return row


def resolve_reference(model, object_id, *, field, message=None):
    """A row a client names inside a payload (owner, assignee, parent...), or 422 naming the field.

    Another workspace's row and an unknown id are the same answer, so nothing leaks.
    """
    if object_id is None:
        return None
    row = find(model, object_id)
    if row is None:
        text = message or f"{_display_name(model)} {object_id} does not exist in this workspace."
        raise ValidationFailed(details=[{"field": field, "message": text}])
    return row


def tenant_select(model, *criteria):
    """`select(model)`: the session limits it to the current workspace (kept for readability)."""
    return sa.select(model).where(*criteria)
