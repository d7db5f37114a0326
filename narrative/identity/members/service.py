"""Members of a workspace: listing, profiles, status and roles, tours, offboarding and removal.

Rules kept here:
- a workspace always keeps at least one active owner (removing, deactivating or demoting the last
  one is a 409 `last_owner`);
- nobody acts on a member whose role is above their own, nor hands out a role above their own;
- permanent deletion needs the user to belong to this workspace alone and to own nothing
  (see `ownership`: reassign first).
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity import permissions
from narrative.identity.access import NotAMember, WorkspaceRequired, current_member, require_caller
from narrative.identity.auth_service import send_activation_email
from narrative.identity.credential_models import INVITATION, OneTimeToken
from narrative.identity.members import ownership
from narrative.identity.members.events import member_payload
from narrative.identity.models import (
    MEMBER_ACTIVE,
    MEMBER_DEACTIVATED,
    MEMBER_INVITED,
    USER_PENDING,
    Member,
    TeamMember,
    User,
)
from narrative.identity.profile_service import AVATAR_MAX_BYTES, AVATAR_TYPES, role_rank
from narrative.identity.service import (
    add_member,
    create_account,
    find_user_by_email,
    normalise_email,
    role_exists,
)
from narrative.platform.email import send_email
from narrative.platform.errors import Conflict, Forbidden, ValidationFailed
from narrative.platform.events import emit
from narrative.platform.models import utcnow
from narrative.platform.storage import store_file
from narrative.platform.tenancy import all_workspaces, get_or_404, resolve_reference, tenant_select

OWNER = permissions.OWNER


class LastOwner(Conflict):
    code = "last_owner"
    message = (
        "A workspace needs at least one active owner: make another member owner before "
        "removing, deactivating or demoting this one."
    )


# --- finding members --------------------------------------------------------------------------


def get_member(member_id):
    """A member of the request's workspace (removed ones included); 404 otherwise."""
    return get_or_404(Member, member_id, message="Member not found.")


def members_query(*, search=None, status=None, is_active=None, role=None, include_removed=False):
    """Members of the request's workspace with their users, filtered; ordered by the caller."""
    query = tenant_select(Member).join(User, User.id == Member.user_id)
    if not include_removed:
        query = query.where(Member.removed_at.is_(None))
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            sa.or_(
                sa.func.lower(User.name).like(pattern),
                sa.func.lower(User.email).like(pattern),
                sa.func.lower(Member.title).like(pattern),
            )
        )
    if status:
        query = query.where(Member.status == status)
    if is_active is not None:
        query = query.where(
            (Member.status == MEMBER_ACTIVE) if is_active else (Member.status != MEMBER_ACTIVE)
        )
    if role:
        query = query.where(Member.role == role)
    return query


def member_order():
    return (sa.func.lower(sa.func.coalesce(User.name, User.email)), Member.created_at)


def active_directory():
    """Every active member of the request's workspace, by name (for pickers and @mentions)."""
    query = members_query(status=MEMBER_ACTIVE).order_by(*member_order())
    return db.session.scalars(query).all()


def workspace_count(user_id):
    """Workspaces the user belongs to (invited or active; removed memberships do not count)."""
    # The account is global: its memberships in every workspace count.
    with all_workspaces():
        return db.session.scalar(
            db.select(db.func.count(Member.id)).where(Member.user_id == user_id, Member.removed_at.is_(None))
        )


# --- guards -----------------------------------------------------------------------------------


def active_owner_count():
    """Active owners of the request's workspace."""
    return db.session.scalar(
        db.select(db.func.count(Member.id)).where(Member.role == OWNER, Member.status == MEMBER_ACTIVE)
    )


def is_last_owner(member):
    return member.role == OWNER and member.status == MEMBER_ACTIVE and active_owner_count() <= 1


def ensure_not_last_owner(member):
    if is_last_owner(member):
        raise LastOwner()


def ensure_can_act_on(*, actor_member, member):
    """Refuse acting on someone whose role is above yours (owners are only handled by owners)."""
    if actor_member is None:
        raise Forbidden()
    if member.id == actor_member.id:
        return
    above = role_rank(member.role) > role_rank(actor_member.role)
    if above or (member.role == OWNER and actor_member.role != OWNER):
        raise Forbidden("You cannot change a member whose role is above yours.")


def check_assignable_role(*, actor_member, workspace_id, role):
    if not role_exists(workspace_id=workspace_id, role=role):
        raise ValidationFailed(details=[{"field": "role", "message": "No such role in this workspace."}])
    if role_rank(role) > role_rank(actor_member.role) or (role == OWNER and actor_member.role != OWNER):
        raise Forbidden("You cannot give a role above your own.")


def _has(actor_member, permission):
    return actor_member is not None and permissions.role_has(
        workspace_id=actor_member.workspace_id, role=actor_member.role, permission=permission
    )


# --- changing a member --------------------------------------------------------------------------

SELF_EDITABLE = ("title", "name")


def update_member(*, actor_member, member, changes):
    """Title and name (yourself, or members.manage), role and status (members.manage).

    Returns the member; emits member.updated with what changed.
    """
    is_self = actor_member is not None and member.id == actor_member.id
    managing = _has(actor_member, "members.manage")
    if not is_self and not managing:
        raise Forbidden(
            "Your role does not include the 'members.manage' permission.",
            extra={"required_permission": "members.manage"},
        )
    if not is_self:
        ensure_can_act_on(actor_member=actor_member, member=member)
    changed = {}
    if "title" in changes and changes["title"] != member.title:
        changed["title"] = {"old": member.title, "new": changes["title"]}
        member.title = changes["title"]
    if "name" in changes and changes["name"] != member.user.name:
        if not is_self:
            # The account is global: another workspace's admin may not rename it.
            raise Forbidden("Only the member themself can change their name.")
        changed["name"] = {"old": member.user.name, "new": changes["name"]}
        member.user.name = changes["name"]
    if "role" in changes and changes["role"] != member.role:
        _change_role(actor_member=actor_member, member=member, role=changes["role"], managing=managing)
        changed["role"] = {"old": member.role, "new": changes["role"]}
        member.role = changes["role"]
    if "status" in changes and changes["status"] != member.status:
        changed["status"] = {"old": member.status, "new": changes["status"]}
        _change_status(member=member, status=changes["status"], managing=managing)
    if changed:
        emit(
            "member.updated",
            member_payload(member, changes=changed),
            workspace_id=member.workspace_id,
            actor_id=actor_member.user_id,
        )
    return member


def _change_role(*, actor_member, member, role, managing):
    if not managing:
        raise Forbidden(
            "Your role does not include the 'members.manage' permission.",
            extra={"required_permission": "members.manage"},
        )
    ensure_can_act_on(actor_member=actor_member, member=member)
    check_assignable_role(actor_member=actor_member, workspace_id=member.workspace_id, role=role)
    if member.role == OWNER:
        ensure_not_last_owner(member)


def _change_status(*, member, status, managing):
    if not managing:
        raise Forbidden(
            "Your role does not include the 'members.manage' permission.",
            extra={"required_permission": "members.manage"},
        )
    if member.removed_at is not None:
        raise Conflict("This member was removed from the workspace; invite them again instead.")
    if status == MEMBER_DEACTIVATED:
        ensure_not_last_owner(member)
        member.status = MEMBER_DEACTIVATED
    elif status == MEMBER_ACTIVE:
        if member.status == MEMBER_INVITED:
            raise Conflict("This person has not accepted the invitation yet.")
        member.status = MEMBER_ACTIVE
    else:
        raise ValidationFailed(
            details=[
                {"field": "status", "message": "Set 'active' or 'deactivated' (invitations are accepted)."}
            ]
        )


def set_avatar(*, actor_member, member, upload):
    """Store a picture (images only, 5 MB) as the member's avatar in this workspace."""
    if member.id != actor_member.id:
        if not _has(actor_member, "members.manage"):
            raise Forbidden(
                "Only admins can upload another member's avatar.",
                extra={"required_permission": "members.manage"},
            )
        ensure_can_act_on(actor_member=actor_member, member=member)
    stored = store_file(
        workspace_id=member.workspace_id,
        data=upload,
        filename=upload.filename or "avatar",
        max_bytes=AVATAR_MAX_BYTES,
        allowed_types=AVATAR_TYPES,
        owner_id=member.user_id,
        purpose="avatar",
    )
    member.avatar_file_id = stored.id
    return stored


# --- onboarding tours -------------------------------------------------------------------------


def set_tour(*, member, tour_id, completed=True, skipped=False, step=None):
    tours = dict(member.tours or {})
    tours[tour_id] = {
        "completed": bool(completed),
        "skipped": bool(skipped),
        "step": step,
        "updated_at": utcnow().isoformat(),
    }
    member.tours = tours  # a new dict, so the JSON column is seen as changed
    return tours


def reset_tours(*, member, tour_id=None):
    """Forget one tour (`tour_id`) or all of them."""
    if tour_id is None:
        member.tours = {}
    else:
        member.tours = {key: value for key, value in (member.tours or {}).items() if key != tour_id}
    return member.tours


# --- offboarding ------------------------------------------------------------------------------


def deletion_info(member):
    count = workspace_count(member.user_id)
    owned = ownership.owned_items(workspace_id=member.workspace_id, member=member)
    owned_total = sum(item["count"] for item in owned)
    last_owner = is_last_owner(member)
    return {
        "member_id": member.id,
        "user_id": member.user_id,
        "workspace_count": count,
        "can_delete_user": count <= 1 and owned_total == 0 and not last_owner,
        "only_in_this_workspace": count <= 1,
        "owned_items_count": owned_total,
        "must_reassign": owned_total > 0,
        "is_last_owner": last_owner,
    }


def reassign(*, actor_member, member, to_member_id, kinds=None):
    """Move what `member` owns to another active member; returns {kind: moved}."""
    ensure_can_act_on(actor_member=actor_member, member=member)
    target = resolve_reference(Member, to_member_id, field="to_member_id")
    if target.id == member.id:
        raise ValidationFailed(details=[{"field": "to_member_id", "message": "Choose another member."}])
    if target.status != MEMBER_ACTIVE:
        raise ValidationFailed(details=[{"field": "to_member_id", "message": "Choose an active member."}])
    known = {entry.kind for entry in ownership.owned_kinds()}
    unknown = sorted(set(kinds or ()) - known)
    if unknown:
        raise ValidationFailed(
            details=[{"field": "kinds", "message": f"Unknown kinds: {', '.join(unknown)}."}]
        )
    moved = ownership.reassign_all(
        workspace_id=member.workspace_id, from_member=member, to_member=target, kinds=kinds
    )
    emit(
        "member.items_reassigned",
        member_payload(member, to_member_id=str(target.id), moved=moved),
        workspace_id=member.workspace_id,
        actor_id=actor_member.user_id,
    )
    return target, moved


def discard_invitation(member):
    """Delete a not-yet-accepted membership, its invitation links, and an account made only for it."""
    user = member.user
    db.session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.purpose == INVITATION,
            OneTimeToken.user_id == member.user_id,
            OneTimeToken.workspace_id == member.workspace_id,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.delete(member)
    db.session.flush()
    unused_account = user.status == USER_PENDING and user.password_hash is None
    if unused_account and workspace_count(user.id) == 0:
        db.session.delete(user)


def remove_member(*, actor_member, member):
    """Take someone out of the workspace.

    An invitation not accepted yet disappears (with an account created only for it). An active
    member is kept as a removed record (status deactivated, `removed_at`), out of every team, so
    what they did keeps its author; they lose access at once.
    """
    ensure_can_act_on(actor_member=actor_member, member=member)
    if member.removed_at is not None:
        return member
    ensure_not_last_owner(member)
    if member.status == MEMBER_INVITED:
        payload = member_payload(member)
        discard_invitation(member)
        emit(
            "member.invitation_canceled",
            payload,
            workspace_id=actor_member.workspace_id,
            actor_id=actor_member.user_id,
        )
        return None
    db.session.execute(sa.delete(TeamMember).where(TeamMember.member_id == member.id))
    member.status = MEMBER_DEACTIVATED
    member.removed_at = utcnow()
    emit(
        "member.removed",
        member_payload(member),
        workspace_id=member.workspace_id,
        actor_id=actor_member.user_id,
    )
    return member


def delete_permanently(*, actor_member, member):
    """Delete the member and their account: only alone in this workspace and owning nothing."""
    if member.id == actor_member.id:
        raise Conflict("You cannot delete your own account from the members list.")
    ensure_can_act_on(actor_member=actor_member, member=member)
    ensure_not_last_owner(member)
    # The account is global: deleting it needs its memberships elsewhere to be gone.
    with all_workspaces():
        others = db.session.scalar(
            db.select(db.func.count(Member.id)).where(
                Member.user_id == member.user_id,
                Member.workspace_id != member.workspace_id,
                Member.removed_at.is_(None),
            )
        )
    if others:
        raise Conflict(
            f"This person also belongs to {others} other workspace(s); remove them from this one instead."
        )
    owned = [
        item
        for item in ownership.owned_items(workspace_id=member.workspace_id, member=member)
        if item["count"]
    ]
    if owned:
        listed = ", ".join(f"{item['count']} {item['description'].lower()}" for item in owned)
        raise Conflict(
            f"Reassign what this member owns first ({listed}): POST /api/v1/members/{member.id}/reassign.",
            code="owned_items_remain",
            extra={"owned_items": owned},
        )
    payload = member_payload(member)
    user = member.user
    emit("member.deleted", payload, workspace_id=member.workspace_id, actor_id=actor_member.user_id)
    db.session.delete(member)
    db.session.flush()
    db.session.delete(user)


def caller_member():
    """The caller's active membership of the request's workspace (401/403 when there is none)."""
    caller = require_caller()
    if caller.workspace_id is None:
        raise WorkspaceRequired()
    member = current_member()
    if member is None:
        raise NotAMember()
    return member


def add_directly(*, actor_member, email, role="member", title=None, name=None):
    """An admin adds someone: an existing account is active at once (and told by email); a new
    one gets an account without a password and an activation email (status invited)."""
    workspace = actor_member.workspace
    check_assignable_role(actor_member=actor_member, workspace_id=workspace.id, role=role)
    email = normalise_email(email)
    user = find_user_by_email(email)
    existing = user and db.session.scalar(db.select(Member).filter_by(user_id=user.id))
    if existing is not None and existing.removed_at is None and existing.status != MEMBER_DEACTIVATED:
        raise Conflict(f"{email} is already in this workspace.")
    inviter = actor_member.user
    if user is None:
        user = create_account(email=email, name=name, status=USER_PENDING)
    ready = user.password_hash is not None and user.status != USER_PENDING
    status = MEMBER_ACTIVE if ready else MEMBER_INVITED
    if existing is not None:
        # Someone removed earlier comes back as the same record, so their history stays theirs.
        ensure_can_act_on(actor_member=actor_member, member=existing)
        member = existing
        member.role, member.status, member.removed_at = role, status, None
        member.invited_by_id, member.title = inviter.id, title if title is not None else member.title
        member.joined_at = utcnow() if ready else None
    else:
        member = add_member(
            workspace=workspace, user=user, role=role, status=status, invited_by=inviter, title=title
        )
    if ready:
        send_email(
            to=user.email,
            subject=f"You were added to {workspace.name} on Narrative",
            text=f"{inviter.name or inviter.email} added you to {workspace.name} as {role}. Sign in to get started.",
            workspace_id=workspace.id,
            kind="member_added",
        )
        emit(
            "member.joined",
            member_payload(member, via="added"),
            workspace_id=workspace.id,
            actor_id=inviter.id,
        )
    else:
        send_activation_email(user=user, workspace=workspace, invited_by=inviter)
        emit(
            "member.invited",
            member_payload(member, invited_by_id=str(inviter.id)),
            workspace_id=workspace.id,
            actor_id=inviter.id,
        )
    return member
