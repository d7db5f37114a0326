"""Workspaces: creating, listing, switching and editing them; invitations; admin password resets.

Invitations: inviting an email makes (or reuses) the account, a membership with status "invited"
and a single-use invitation token (stored hashed, 7 days) whose link goes out through the email
outbox, or back to the admin for the "invite link" variant. A newer invitation for the same
person and workspace voids the older links. Accepting spends the token, sets the password of an
account that has none (an existing account proves its password instead, so an invitation link is
never a way into someone else's account), activates the membership and starts a session there.
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity import tokens
from narrative.identity.access import NotAMember
from narrative.identity.auth_service import InvalidCredentials, public_url, send_activation_email
from narrative.identity.credential_models import INVITATION, PASSWORD_RESET, OneTimeToken
from narrative.identity.members.events import member_payload
from narrative.identity.members.service import (
    check_assignable_role,
    discard_invitation,
    ensure_can_act_on,
    get_member,
    remove_member,
    workspace_count,
)
from narrative.identity.models import (
    MEMBER_ACTIVE,
    MEMBER_INVITED,
    USER_ACTIVE,
    USER_DISABLED,
    USER_PENDING,
    Member,
    User,
    Workspace,
)
from narrative.identity.passwords import hash_password, verify_password
from narrative.identity.service import (
    add_member,
    check_password_strength,
    create_account,
    create_workspace,
    find_user_by_email,
    normalise_email,
)
from narrative.platform.email import send_email
from narrative.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from narrative.platform.events import emit, register_event_type
from narrative.platform.models import parse_uuid, utcnow
from narrative.platform.tenancy import all_workspaces, workspace_scope

INVITATION_SECONDS = 7 * 86400
EMAILED_RESET_SECONDS = 3600
# A link an admin copies into a chat lives longer than an emailed one (the seed's 24 hours).
COPIED_RESET_SECONDS = 24 * 3600
UPDATABLE_FIELDS = ("name",)

_WORKSPACE = {
    "workspace_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c30",
    "name": "Acme Real Estate",
    "slug": "acme-real-estate",
}
register_event_type(
    "workspace.created",
    description="A workspace was created; its creator is its owner.",
    example={**_WORKSPACE, "owner_user_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0e"},
)
register_event_type(
    "workspace.updated",
    description="A workspace's name or settings changed; `changes` holds the old and new values.",
    example={**_WORKSPACE, "changes": {"name": {"old": "Acme", "new": "Acme Real Estate"}}},
)


# --- workspaces ---------------------------------------------------------------------------------


def memberships_query(user):
    """(Workspace, role) rows of the user's active memberships, by workspace name.

    They cross workspaces: run it inside `all_workspaces()`.
    """
    return (
        db.select(Workspace, Member.role)
        .join(Member, Member.workspace_id == Workspace.id)
        .where(Member.user_id == user.id, Member.status == MEMBER_ACTIVE, Workspace.deleted_at.is_(None))
    )


def active_membership(*, user, workspace_id):
    """The user's active membership of a live workspace; 403 not_a_member otherwise (never a 404)."""
    workspace_id = parse_uuid(workspace_id)
    member = None
    if workspace_id is not None:
        # The user's own membership of another workspace than the request's.
        with all_workspaces():
            member = db.session.scalar(
                db.select(Member)
                .join(Workspace, Workspace.id == Member.workspace_id)
                .where(
                    Member.workspace_id == workspace_id,
                    Member.user_id == user.id,
                    Member.status == MEMBER_ACTIVE,
                    Workspace.deleted_at.is_(None),
                )
            )
    if member is None:
        raise NotAMember()
    return member


def new_workspace(*, user, name, settings=None):
    workspace = create_workspace(name=name, owner=user, settings=settings)
    # The event belongs to the new workspace, not to the one the request is in (if any).
    with workspace_scope(workspace.id):
        emit(
            "workspace.created",
            {
                "workspace_id": str(workspace.id),
                "name": workspace.name,
                "slug": workspace.slug,
                "owner_user_id": str(user.id),
            },
            workspace_id=workspace.id,
            actor_id=user.id,
        )
        db.session.flush()
    return workspace


def switch(*, user, workspace_id):
    """A new session (tokens) in another workspace the user is an active member of."""
    member = active_membership(user=user, workspace_id=workspace_id)
    pair = tokens.issue_tokens(user=user, workspace_id=member.workspace_id, role=member.role)
    return member, pair


def update_workspace(*, workspace, actor, changes):
    changed = {}
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise ValidationFailed(details=[{"field": "name", "message": "A workspace needs a name."}])
        if name != workspace.name:
            changed["name"] = {"old": workspace.name, "new": name}
            workspace.name = name
    if changes.get("settings"):
        # Settings merge: a client sends the keys it changes; null removes a key.
        merged = dict(workspace.settings or {})
        for key, value in changes["settings"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged != workspace.settings:
            changed["settings"] = {"old": workspace.settings, "new": merged}
            workspace.settings = merged
    if changed:
        emit(
            "workspace.updated",
            {
                "workspace_id": str(workspace.id),
                "name": workspace.name,
                "slug": workspace.slug,
                "changes": changed,
            },
            workspace_id=workspace.id,
            actor_id=actor.id,
        )
    return workspace


def provision(*, email, workspace_name, name=None, actor):
    """A platform administrator sets up a workspace for someone, who becomes its owner.

    A new account gets an activation email (set a password, then sign in).
    Returns (workspace, owner user, created: bool).
    """
    email = normalise_email(email)
    user = find_user_by_email(email)
    created = user is None
    if created:
        user = create_account(email=email, name=name, status=USER_PENDING)
    workspace = new_workspace(user=user, name=workspace_name or f"{name or email.split('@')[0]}'s workspace")
    if created:
        send_activation_email(user=user, workspace=workspace, invited_by=actor)
    return workspace, user, created


# --- invitations -------------------------------------------------------------------------------


def _void_invitations(*, workspace_id, user_id):
    db.session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.purpose == INVITATION,
            OneTimeToken.user_id == user_id,
            OneTimeToken.workspace_id == workspace_id,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def invitation_url(raw):
    return public_url("/invitations/accept", token=raw)


def _issue_invitation(*, member, inviter):
    _void_invitations(workspace_id=member.workspace_id, user_id=member.user_id)
    _, raw = tokens.create_one_time_token(
        purpose=INVITATION,
        expires_in=INVITATION_SECONDS,
        user_id=member.user_id,
        workspace_id=member.workspace_id,
        created_by_id=inviter.id,
        data={"member_id": str(member.id)},
    )
    return raw


def _send_invitation_email(*, member, workspace, inviter, url):
    who = inviter.name or inviter.email
    send_email(
        to=member.user.email,
        subject=f"{who} invited you to {workspace.name} on Narrative",
        text=(
            f"{who} invited you to join {workspace.name} on Narrative as {member.role}.\n\n"
            f"Accept the invitation here:\n{url}\n\n"
            "The link works once and expires in 7 days. If you did not expect it, ignore this email."
        ),
        workspace_id=workspace.id,
        kind="invitation",
    )


def invite(*, workspace, actor_member, email, role="member", title=None, send=True):
    """Invite someone by email; returns (member, invitation URL).

    An unknown email gets an account without a password (status pending). Inviting someone
    already invited issues a new link (the old one stops working); an active member is a 409.
    """
    check_assignable_role(actor_member=actor_member, workspace_id=workspace.id, role=role)
    inviter = actor_member.user
    email = normalise_email(email)
    user = find_user_by_email(email)
    if user is None:
        user = create_account(email=email, status=USER_PENDING)
    elif user.status == USER_DISABLED:
        raise Conflict("This account is disabled and cannot be invited.")
    member = db.session.scalar(db.select(Member).filter_by(user_id=user.id))
    if member is None:
        member = add_member(
            workspace=workspace, user=user, role=role, status=MEMBER_INVITED, invited_by=inviter, title=title
        )
    elif member.status == MEMBER_ACTIVE:
        raise Conflict(f"{email} is already a member of this workspace.")
    elif member.status == MEMBER_INVITED:
        member.role, member.invited_by_id = role, inviter.id
    else:
        # A removed or deactivated member is invited back: a fresh invitation.
        ensure_can_act_on(actor_member=actor_member, member=member)
        member.status, member.role, member.removed_at = MEMBER_INVITED, role, None
        member.invited_by_id, member.joined_at = inviter.id, None
    if title is not None:
        member.title = title
    raw = _issue_invitation(member=member, inviter=inviter)
    url = invitation_url(raw)
    if send:
        _send_invitation_email(member=member, workspace=workspace, inviter=inviter, url=url)
    emit(
        "member.invited",
        member_payload(member, invited_by_id=str(inviter.id)),
        workspace_id=workspace.id,
        actor_id=inviter.id,
    )
    return member, url


def find_invited_member(*, member_id=None, user_id=None, email=None):
    """The request workspace's pending membership named by member_id, user_id or email (one is required)."""
    if member_id is None and user_id is None and not email:
        raise ValidationFailed(
            details=[{"field": "member_id", "message": "Give member_id, user_id or email."}]
        )
    query = db.select(Member).join(User, User.id == Member.user_id)
    if member_id is not None:
        query = query.where(Member.id == member_id)
    if user_id is not None:
        query = query.where(Member.user_id == user_id)
    if email:
        query = query.where(User.email == normalise_email(email))
    member = db.session.scalar(query)
    if member is None:
        raise NotFound("Invitation not found.")
    if member.status != MEMBER_INVITED:
        raise Conflict("Only pending invitations can be canceled or resent; this person already joined.")
    return member


def resend(*, workspace, actor_member, member):
    raw = _issue_invitation(member=member, inviter=actor_member.user)
    url = invitation_url(raw)
    _send_invitation_email(member=member, workspace=workspace, inviter=actor_member.user, url=url)
    return url


def cancel(*, actor_member, member):
    ensure_can_act_on(actor_member=actor_member, member=member)
    payload = member_payload(member)
    discard_invitation(member)
    emit(
        "member.invitation_canceled",
        payload,
        workspace_id=actor_member.workspace_id,
        actor_id=actor_member.user_id,
    )


def invitation_details(*, token):
    """What an invitation link is for, without spending it."""
    row = tokens.peek_one_time_token(purpose=INVITATION, raw=token)
    member, user, workspace = _invitation_parts(row)
    inviter = db.session.get(User, row.created_by_id) if row.created_by_id else None
    return {
        "email": user.email,
        "name": user.name,
        "role": member.role,
        "workspace": {
            "id": workspace.id,
            "name": workspace.name,
            "slug": workspace.slug,
            "plan": workspace.plan,
        },
        "invited_by": (inviter.name or inviter.email) if inviter else None,
        "expires_at": row.expires_at,
        "needs_password": user.password_hash is None,
        "user_exists": user.password_hash is not None,
    }


def _invitation_parts(row):
    # The link holder is not signed in (or is, elsewhere): the token names the workspace.
    with all_workspaces():
        member = db.session.scalar(
            db.select(Member).filter_by(workspace_id=row.workspace_id, user_id=row.user_id)
        )
    user = db.session.get(User, row.user_id)
    workspace = db.session.get(Workspace, row.workspace_id)
    usable = (
        member is not None
        and member.status == MEMBER_INVITED
        and user is not None
        and user.status != USER_DISABLED
        and workspace is not None
        and workspace.deleted_at is None
    )
    if not usable:
        raise tokens.InvalidOneTimeToken()
    return member, user, workspace


def accept(*, token, password=None, name=None):
    """Join the workspace: returns (user, member, workspace, TokenPair).

    An account without a password must choose one (8+ characters); an account that has one must
    give it, so the link alone never signs anyone into an existing account.
    """
    row = tokens.peek_one_time_token(purpose=INVITATION, raw=token)
    member, user, workspace = _invitation_parts(row)
    now = utcnow()
    if user.password_hash is None:
        if not password:
            raise ValidationFailed(details=[{"field": "password", "message": "Choose a password to join."}])
        check_password_strength(password)
    elif not verify_password(user.password_hash, password or ""):
        raise InvalidCredentials("This account already has a password: enter it to accept the invitation.")
    tokens.consume_one_time_token(purpose=INVITATION, raw=token)
    if user.password_hash is None:
        user.password_hash = hash_password(password)
        user.password_changed_at = now
    if name and not user.name:
        user.name = name
    # The link reached this mailbox, which proves the address.
    user.email_verified_at = user.email_verified_at or now
    if user.status == USER_PENDING:
        user.status = USER_ACTIVE
    member.status, member.joined_at = MEMBER_ACTIVE, now
    user.last_login_at = now
    emit(
        "member.joined", member_payload(member, via="invitation"), workspace_id=workspace.id, actor_id=user.id
    )
    pair = tokens.issue_tokens(user=user, workspace_id=workspace.id, role=member.role)
    return user, member, workspace, pair


# --- admin help with passwords -------------------------------------------------------------------


def member_by_user(*, user_id, actor_member):
    """The membership of `user_id` in the request's workspace (404 otherwise), checked against the
    actor's rank."""
    user_id = parse_uuid(user_id)
    member = None
    if user_id is not None:
        member = db.session.scalar(db.select(Member).filter_by(user_id=user_id))
    if member is None or member.removed_at is not None:
        raise NotFound("User not found.")
    ensure_can_act_on(actor_member=actor_member, member=member)
    if member.user.status == USER_DISABLED:
        raise Conflict("This account is disabled.")
    return member


def _reset_token(*, member, actor, expires_in):
    tokens.expire_one_time_tokens(purpose=PASSWORD_RESET, user_id=member.user_id)
    _, raw = tokens.create_one_time_token(
        purpose=PASSWORD_RESET, expires_in=expires_in, user_id=member.user_id, created_by_id=actor.id
    )
    return public_url("/reset-password", token=raw)


def email_password_reset(*, workspace, member, actor):
    url = _reset_token(member=member, actor=actor, expires_in=EMAILED_RESET_SECONDS)
    who = actor.name or actor.email
    send_email(
        to=member.user.email,
        subject=f"Reset your Narrative password ({workspace.name})",
        text=(
            f"{who}, an administrator of {workspace.name}, sent you a link to choose a new password.\n\n"
            f"{url}\n\nThe link works once and expires in 1 hour. If you did not ask for it, "
            "you can ignore this email: your password stays as it is."
        ),
        workspace_id=workspace.id,
        kind="password_reset",
    )
    return url


def password_reset_link(*, member, actor):
    """A 24-hour reset link for the admin to pass on.

    Only for people who belong to this workspace alone: a link an admin holds must not open an
    account that also reaches other workspaces (they get the emailed reset instead).
    """
    if workspace_count(member.user_id) > 1:
        raise Forbidden(
            "This person also belongs to other workspaces; send the password reset email instead."
        )
    return _reset_token(member=member, actor=actor, expires_in=COPIED_RESET_SECONDS)


def remove_from_workspace(*, actor_member, member_id):
    """DELETE /workspaces/{id}/members/{member_id}: see members.service.remove_member."""
    member = get_member(member_id)
    return remove_member(actor_member=actor_member, member=member)
