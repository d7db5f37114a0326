"""Test data for anything that needs people, workspaces and credentials.

user = make_user()                                   # owner of a new workspace
viewer = make_user(role="viewer", workspace=user.memberships[0].workspace)
client.get("/api/v1/things", headers=auth_headers(viewer))
raw_key = make_api_key(user, scopes=["records.read"])
client.get(..., headers={"Authorization": f"Bearer {raw_key}"})
"""

import itertools

from narrative.extensions import db
from narrative.identity import service, tokens
from narrative.identity.models import Member, Workspace

DEFAULT_PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def make_workspace(*, name=None, owner=None):
    """A workspace; with no owner, a new user owns it."""
    if owner is None:
        return make_user(workspace_name=name).memberships[0].workspace
    workspace = service.create_workspace(name=name or f"Workspace {next(_counter)}", owner=owner)
    db.session.commit()
    return workspace


def make_user(
    *,
    email=None,
    password=DEFAULT_PASSWORD,
    name=None,
    role="owner",
    workspace=None,
    workspace_name=None,
    status="active",
    platform_admin=False,
):
    """A user with one membership: `role` in `workspace`, or owner of a new workspace."""
    number = next(_counter)
    user = service.create_account(
        email=email or f"user{number}@example.com",
        password=password,
        name=name or f"User {number}",
        status=status,
        platform_admin=platform_admin,
    )
    if workspace is None:
        workspace = service.create_workspace(name=workspace_name or f"Workspace {number}", owner=user)
        if role != "owner":
            member = db.session.scalar(
                db.select(Member).filter_by(workspace_id=workspace.id, user_id=user.id)
            )
            member.role = role
    else:
        service.add_member(workspace=workspace, user=user, role=role)
    db.session.commit()
    return user


def workspace_of(user):
    """The user's first workspace."""
    member = db.session.scalar(db.select(Member).filter_by(user_id=user.id).order_by(Member.created_at))
    return db.session.get(Workspace, member.workspace_id) if member else None


def issue_tokens_for(user, workspace=None):
    """A real session (access + refresh token pair) for the user in the workspace."""
    workspace = workspace or workspace_of(user)
    role = None
    if workspace is not None:
        member = db.session.scalar(db.select(Member).filter_by(workspace_id=workspace.id, user_id=user.id))
        role = member.role if member else None
    pair = tokens.issue_tokens(user=user, workspace_id=workspace.id if workspace else None, role=role)
    db.session.commit()
    return pair


def auth_headers(user, workspace=None):
    """`Authorization: Bearer <access token>` for the user, in `workspace` (default: their first)."""
    return {"Authorization": f"Bearer {issue_tokens_for(user, workspace).access_token}"}


def make_api_key(user, *, workspace=None, scopes=None, name="Test key"):
    """Returns the raw `sk_` key (the row: look it up by `narrative.platform.crypto.hash_secret(raw)`)."""
    _, raw = service.create_api_key(
        user=user, workspace=workspace or workspace_of(user), name=name, scopes=scopes
    )
    db.session.commit()
    return raw
