"""Profiles: who may read and edit whom, profile fields, avatars."""

import uuid

from narrative.extensions import db
from narrative.identity import permissions
from narrative.identity.models import Member, User
from narrative.identity.service import normalise_email, role_exists
from narrative.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from narrative.platform.storage import store_file

PROFILE_FIELDS = ("name", "title", "phone", "bio", "avatar_url", "locale", "timezone")
AVATAR_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
AVATAR_MAX_BYTES = 5 * 1024 * 1024
# Custom roles rank like members: editing someone needs a role at least as high as theirs.
ROLE_RANK = {"owner": 4, "admin": 3, "member": 2, "viewer": 1}


def role_rank(role):
    return ROLE_RANK.get(role, ROLE_RANK["member"])


def member_of(user_id):
    """The user's membership of the workspace in scope (removed ones included), or None."""
    return db.session.scalar(db.select(Member).filter_by(user_id=user_id))


def find_user_in_workspace(*, user_id, actor, workspace_id):
    """(user, member) for a user of the actor's workspace (or the actor); 404 otherwise."""
    try:
        user_id = uuid.UUID(str(user_id))
    except ValueError:
        raise NotFound("User not found.") from None
    if workspace_id is None:
        # Without a workspace the caller can only see themself.
        if user_id == actor.id:
            return actor, None
        raise NotFound("User not found.")
    if user_id == actor.id:
        return actor, member_of(actor.id)
    member = member_of(user_id)
    if member is None or member.removed_at is not None:
        raise NotFound("User not found.")
    return member.user, member


def check_can_view(*, actor, actor_member, target):
    if target.id == actor.id:
        return
    if actor_member is None or not permissions.role_has(
        workspace_id=actor_member.workspace_id, role=actor_member.role, permission="users.read"
    ):
        raise Forbidden("Your role does not include the 'users.read' permission.")


def check_can_edit(*, actor, actor_member, target, target_member):
    """Yourself, or someone whose role is not above yours when you hold users.manage."""
    if target.id == actor.id:
        return
    if actor_member is None or not permissions.role_has(
        workspace_id=actor_member.workspace_id, role=actor_member.role, permission="users.manage"
    ):
        raise Forbidden("Your role does not include the 'users.manage' permission.")
    if target_member is not None and role_rank(target_member.role) > role_rank(actor_member.role):
        raise Forbidden("You cannot edit someone whose role is above yours.")


def update_profile(*, user, changes):
    """Apply profile fields (and a new, unused email) to the user."""
    for field in PROFILE_FIELDS:
        if field in changes:
            setattr(user, field, changes[field])
    if "email" in changes and changes["email"] is not None:
        email = normalise_email(changes["email"])
        if email != user.email:
            taken = db.session.scalar(db.select(User.id).filter(User.email == email, User.id != user.id))
            if taken is not None:
                raise Conflict("Another account uses this email.")
            user.email = email
            user.email_verified_at = None
    return user


def change_role(*, actor_member, target_member, role):
    """A member's role change from the profile endpoint: members.manage, never above your own."""
    if target_member is None:
        raise ValidationFailed(details=[{"field": "role", "message": "This user is not in the workspace."}])
    if role == target_member.role:
        return
    if not permissions.role_has(
        workspace_id=actor_member.workspace_id, role=actor_member.role, permission="members.manage"
    ):
        raise Forbidden("Your role does not include the 'members.manage' permission.")
    if not role_exists(workspace_id=target_member.workspace_id, role=role):
        raise ValidationFailed(details=[{"field": "role", "message": "No such role in this workspace."}])
    if role_rank(role) > role_rank(actor_member.role) or (
        target_member.role == "owner" and actor_member.role != "owner"
    ):
        raise Forbidden("You cannot give or take a role above your own.")
    target_member.role = role


def set_avatar(*, user, upload, workspace_id):
    """Store an uploaded picture (images only, 5 MB) as the user's avatar."""
    stored = store_file(
        workspace_id=workspace_id,
        data=upload,
        filename=upload.filename or "avatar",
        max_bytes=AVATAR_MAX_BYTES,
        allowed_types=AVATAR_TYPES,
        owner_id=user.id,
        purpose="avatar",
    )
    user.avatar_file_id = stored.id
    user.avatar_url = None
    return stored
