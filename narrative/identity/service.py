"""Creating users, workspaces and API keys; the one place these rules live."""

import hashlib
import re
import secrets

from narrative.extensions import db
from narrative.identity.models import ROLES, ApiKey, Member, User, Workspace
from narrative.identity.passwords import hash_password
from narrative.platform.errors import Conflict, NotFound, ValidationFailed

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


def create_workspace(*, name, owner):
    workspace = Workspace(name=name, slug=unique_workspace_slug(name))
    db.session.add(workspace)
    db.session.add(Member(workspace=workspace, user=owner, role="owner"))
    return workspace


def add_member(*, workspace, user, role="member"):
    if role not in ROLES:
        raise ValidationFailed(details=[{"field": "role", "message": f"Must be one of {', '.join(ROLES)}."}])
    member = Member(workspace=workspace, user=user, role=role)
    db.session.add(member)
    return member


def create_user(*, email, password, name=None, workspace_name=None, platform_admin=False):
    """A user and, unless they join an existing workspace by name, a workspace they own."""
    email = normalise_email(email)
    if len(password or "") < 8:
        raise ValidationFailed(details=[{"field": "password", "message": "Use at least 8 characters."}])
    if find_user_by_email(email) is not None:
        raise Conflict("A user with this email already exists.")
    user = User(
        email=email, password_hash=hash_password(password), name=name, is_platform_admin=platform_admin
    )
    db.session.add(user)
    existing = workspace_name and db.session.scalar(db.select(Workspace).filter_by(name=workspace_name))
    if existing:
        add_member(workspace=existing, user=user, role="admin" if platform_admin else "member")
    else:
        create_workspace(name=workspace_name or f"{name or email.split('@')[0]}'s workspace", owner=user)
    db.session.flush()
    return user


def hash_api_key(raw_key):
    # Keys carry 256 random bits, so a fast hash is the right tool (no brute force to slow down).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_api_key(*, user, workspace=None, name="API key", scopes=None):
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
        key_hash=hash_api_key(raw_key),
        scopes=list(scopes or ["*"]),
    )
    db.session.add(key)
    db.session.flush()
    return key, raw_key
