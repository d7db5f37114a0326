"""Creating users, workspaces, memberships and API keys; the one place these rules live."""

import re
import secrets

from narrative.extensions import db
from narrative.identity.models import ROLES, ApiKey, Member, Role, User, Workspace
from narrative.identity.passwords import hash_password
from narrative.platform.crypto import hash_secret
from narrative.platform.errors import Conflict, NotFound, ValidationFailed
from narrative.platform.models import utcnow
from narrative.platform.tenancy import workspace_scope

MIN_PASSWORD_LENGTH = 8

API_KEY_PREFIX = "sk_"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email):
    email = (email or "").strip().lower()
    if not _EMAIL.match(email):
        raise ValidationFailed(details=[{"field": "email", "message": "Not a valid email address."}])
    return email


def slugify(text):
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "workspace"


def unique_workspace_slug(name):
    base = slugify(name)
    slug = base
    while db.session.scalar(db.select(Workspace.id).filter_by(slug=slug)) is not None:
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def find_user_by_email(email):
    return db.session.scalar(db.select(User).filter_by(email=normalise_email(email)))


def create_workspace(*, name, owner, plan="free", settings=None):
    """A workspace with `owner` as its owner member.

    System roles need no rows: their permissions are the catalog defaults until an admin edits
    them (see narrative.identity.permissions).
    """
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(details=[{"field": "name", "message": "A workspace needs a name."}])
    workspace = Workspace(
        name=name[:200], slug=unique_workspace_slug(name), plan=plan, settings=dict(settings or {})
    )
    db.session.add(workspace)
    db.session.flush()
    # The owner's membership belongs to the new workspace, whichever one the request is in.
    with workspace_scope(workspace.id):
        db.session.add(
            Member(workspace=workspace, user=owner, role="owner", status="active", joined_at=utcnow())
        )
        db.session.flush()
    return workspace


def role_exists(*, workspace_id, role):
    if role in ROLES:
        return True
    return db.session.scalar(db.select(Role.id).filter_by(workspace_id=workspace_id, key=role)) is not None


def add_member(*, workspace, user, role="member", status="active", invited_by=None, title=None):
    if not role_exists(workspace_id=workspace.id, role=role):
        raise ValidationFailed(
            details=[{"field": "role", "message": f"Must be one of {', '.join(ROLES)} or a custom role."}]
        )
    member = Member(
        workspace=workspace,
        user=user,
        role=role,
        status=status,
        title=title,
        invited_by_id=invited_by.id if invited_by is not None else None,
        joined_at=utcnow() if status == "active" else None,
    )
    db.session.add(member)
    db.session.flush()
    return member


def check_password_strength(password, *, field="password"):
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            details=[{"field": field, "message": f"Use at least {MIN_PASSWORD_LENGTH} characters."}]
        )


def create_account(*, email, password=None, name=None, status="active", platform_admin=False):
    """Only the user row (no workspace): invitations and legacy registration start here.

    `password=None` leaves the account without one (an invited user sets it on activation).
    """
    email = normalise_email(email)
    if password is not None:
        check_password_strength(password)
    if find_user_by_email(email) is not None:
        raise Conflict("A user with this email already exists.")
    now = utcnow()
    user = User(
        email=email,
        password_hash=hash_password(password) if password is not None else None,
        password_changed_at=now if password is not None else None,
        name=name,
        status=status,
        is_platform_admin=platform_admin,
    )
    db.session.add(user)
    db.session.flush()
    return user


def create_user(*, email, password, name=None, workspace_name=None, platform_admin=False):
    """A user and, unless they join an existing workspace by name, a workspace they own."""
    user = create_account(email=email, password=password, name=name, platform_admin=platform_admin)
    existing = workspace_name and db.session.scalar(db.select(Workspace).filter_by(name=workspace_name))
    if existing:
        add_member(workspace=existing, user=user, role="admin" if platform_admin else "member")
    else:
        create_workspace(name=workspace_name or f"{name or user.email.split('@')[0]}'s workspace", owner=user)
    db.session.flush()
    return user


def create_api_key(
    *, user, workspace=None, name="API key", scopes=None, description=None, expires_at=None, rotated_from=None
):
    """Returns (key row, the raw key) — the raw key is shown once and never stored."""
    if workspace is None:
        membership = next(iter(user.memberships), None)
        if membership is None:
            raise NotFound("This user belongs to no workspace.")
        workspace = membership.workspace
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        workspace_id=workspace.id,
        user_id=user.id,
        name=name,
        prefix=raw_key[:10],
        key_hash=hash_secret(raw_key),
        scopes=list(scopes or ["*"]),
        description=description,
        expires_at=expires_at,
        rotated_from_id=rotated_from.id if rotated_from is not None else None,
    )
    db.session.add(key)
    db.session.flush()
    return key, raw_key
