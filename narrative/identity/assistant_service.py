"""The organisation assistant's identity rules: first-time setup, admin login, signup modes and the
waitlist, public organisations, popup -> iframe session tokens, and the organisation's settings.

The organisation is the caller's workspace; its users are members, its groups are teams. Shared
rules come from the services that own them (sessions: `auth_service`; invitations:
`workspaces.service`; roles, status and removal: `members.service`; groups: `teams.service`).

Signup settings live per organisation in `Workspace.settings["signup"]`:

- `enabled` false (the default): nobody signs up; invitations still work.
- `mode` "open": anyone (with an allowed email domain) joins as `default_role` at once;
  "invite_only": only with an invitation token; "waitlist": the request waits (member status
  "waitlisted", account pending) until an admin approves or rejects it.

An organisation appears in the public list (embedded chat) only when `settings["public"]` is true.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from narrative.extensions import db
from narrative.identity import auth_service, tokens
from narrative.identity.assistant_models import SETUP, PlatformSetting
from narrative.identity.credential_models import SESSION
from narrative.identity.members import service as members_service
from narrative.identity.models import (
    MEMBER_ACTIVE,
    MEMBER_INVITED,
    USER_ACTIVE,
    USER_PENDING,
    Member,
    Team,
    TeamMember,
    User,
    Workspace,
)
from narrative.identity.profile_service import member_of
from narrative.identity.service import (
    add_member,
    create_account,
    create_workspace,
    find_user_by_email,
    normalise_email,
)
from narrative.identity.workspaces import service as workspaces_service
from narrative.licensing import service as licensing
from narrative.platform.email import send_email
from narrative.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from narrative.platform.models import parse_uuid, utcnow
from narrative.platform.tenancy import all_workspaces, tenant_select, workspace_scope

MEMBER_WAITLISTED = "waitlisted"
SIGNUP_MODES = ("open", "invite_only", "waitlist")
SIGNUP_ROLES = ("member", "viewer")
DEFAULT_SIGNUP = {
    "enabled": False,
    "mode": "invite_only",
    "default_role": "member",
    "allowed_email_domains": [],
}
SESSION_TOKEN_SECONDS = 60
# Keys of Workspace.settings this module owns; a plain settings update never overwrites them.
RESERVED_SETTINGS = ("signup", "public", "beta_features", "default_language")

# Which settings make an OAuth / SSO provider usable (all of them must be set).
OAUTH_PROVIDER_SETTINGS = {
    "google": ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
    "microsoft": ("MICROSOFT_CLIENT_ID", "MICROSOFT_CLIENT_SECRET"),
    "github": ("GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"),
    "nextcloud": ("NEXTCLOUD_URL", "NEXTCLOUD_CLIENT_ID", "NEXTCLOUD_CLIENT_SECRET"),
    "saml": ("SAML_IDP_METADATA_URL",),
}


class SetupCompleted(Conflict):
    code = "setup_completed"
    message = "This installation is already set up; sign in with the administrator account."


class NotPlatformAdmin(Forbidden):
    code = "admin_required"
    message = "Only platform administrators can sign in here."


class SignupDisabled(Forbidden):
    code = "signup_disabled"
    message = "Sign-up is not enabled for this organisation; ask an administrator for an invitation."


class InvitationRequired(Forbidden):
    code = "invitation_required"
    message = "This organisation accepts new users by invitation only."


class WaitlistClosed(Forbidden):
    code = "waitlist_closed"
    message = "This organisation does not keep a waitlist."


class EmailDomainNotAllowed(Forbidden):
    code = "email_domain_not_allowed"


@dataclass
class SignupOutcome:
    """`status` is "active" (with a session) or "pending" (on the waitlist)."""

    status: str
    user: User
    workspace: Workspace
    member: Member
    pair: object = None


# --- setup -----------------------------------------------------------------------------------------


def setup_record():
    return db.session.get(PlatformSetting, SETUP)


def is_bootstrapped():
    """Set up once, or an administrator exists already (demo data, the create-user command)."""
    if setup_record() is not None:
        return True
    return db.session.scalar(sa.select(User.id).where(User.is_platform_admin.is_(True)).limit(1)) is not None


def configured_oauth_providers():
    config = current_app.config
    return {name: all(config.get(key) for key in keys) for name, keys in OAUTH_PROVIDER_SETTINGS.items()}


def available_locales():
    configured = current_app.config.get("AVAILABLE_LOCALES") or "en"
    return [locale.strip() for locale in configured.split(",") if locale.strip()]


def home_organisation():
    """The organisation the first-time setup created (None on installations set up otherwise)."""
    record = setup_record()
    workspace_id = record.value.get("organization_id") if record is not None else None
    workspace = db.session.get(Workspace, parse_uuid(workspace_id)) if workspace_id else None
    return workspace if workspace is not None and workspace.deleted_at is None else None


def setup_status():
    record = setup_record()
    home = home_organisation()
    return {
        "bootstrapped": is_bootstrapped(),
        "setup_required": not is_bootstrapped(),
        "completed_at": record.value.get("completed_at") if record is not None else None,
        "oauth_providers": configured_oauth_providers(),
        "locales": available_locales(),
        "organization": home,
        "signup": signup_settings(home) if home is not None else None,
    }


def run_setup(*, email, password, name=None, organization_name=None):
    """Create the first platform administrator and organisation, signed in; 409 once done."""
    if is_bootstrapped():
        raise SetupCompleted()
    user = create_account(email=email, password=password, name=name, platform_admin=True)
    organisation_name = (
        organization_name or ""
    ).strip() or f"{name or user.email.split('@')[0]}'s organisation"
    workspace = create_workspace(name=organisation_name, owner=user)
    now = utcnow()
    try:
        # The primary key of the one "setup" row decides a race between two setup requests.
        with db.session.begin_nested():
            db.session.add(
                PlatformSetting(
                    key=SETUP,
                    value={
                        "completed_at": now.isoformat(),
                        "admin_user_id": str(user.id),
                        "organization_id": str(workspace.id),
                    },
                )
            )
    except IntegrityError:
        raise SetupCompleted() from None
    user.email_verified_at = now
    user.last_login_at = now
    pair = auth_service.start_session(user=user, workspace_id=workspace.id)
    return user, workspace, pair


def admin_login(*, username, password):
    """A session for a platform administrator; anyone else gets 403 admin_required."""
    user = auth_service.authenticate(email=username, password=password)
    if not user.is_platform_admin:
        raise NotPlatformAdmin()
    user.last_login_at = utcnow()
    pair = auth_service.start_session(user=user)
    return user, pair


# --- signup settings ----------------------------------------------------------------------------


def signup_settings(workspace):
    return {**DEFAULT_SIGNUP, **((workspace.settings or {}).get("signup") or {})}


def _clean_domains(domains):
    cleaned = []
    for domain in domains or []:
        domain = str(domain).strip().lower().lstrip("@")
        if not domain or "." not in domain or " " in domain:
            raise ValidationFailed(
                details=[{"field": "allowed_email_domains", "message": f"{domain!r} is not a domain name."}]
            )
        cleaned.append(domain)
    return sorted(set(cleaned))


def update_signup_settings(*, workspace, changes):
    current = signup_settings(workspace)
    if "mode" in changes and changes["mode"] not in SIGNUP_MODES:
        raise ValidationFailed(details=[{"field": "mode", "message": f"One of {', '.join(SIGNUP_MODES)}."}])
    if "default_role" in changes and changes["default_role"] not in SIGNUP_ROLES:
        raise ValidationFailed(
            details=[{"field": "default_role", "message": f"One of {', '.join(SIGNUP_ROLES)}."}]
        )
    if "allowed_email_domains" in changes:
        changes = {**changes, "allowed_email_domains": _clean_domains(changes["allowed_email_domains"])}
    updated = {**current, **{k: v for k, v in changes.items() if k in DEFAULT_SIGNUP}}
    # A new dict, so the JSON column sees the change.
    workspace.settings = {**(workspace.settings or {}), "signup": updated}
    return updated


# --- signup and the waitlist --------------------------------------------------------------------


def _organisation_by_reference(reference):
    reference = str(reference).strip()
    workspace_id = parse_uuid(reference)
    condition = (
        Workspace.id == workspace_id if workspace_id is not None else Workspace.slug == reference.lower()
    )
    workspace = db.session.scalar(sa.select(Workspace).where(condition, Workspace.deleted_at.is_(None)))
    if workspace is None:
        raise NotFound("Organisation not found.")
    return workspace


def _only_organisation_with_signup():
    candidates = [
        ws
        for ws in db.session.scalars(sa.select(Workspace).where(Workspace.deleted_at.is_(None)).limit(500))
        if signup_settings(ws)["enabled"]
    ]
    return candidates[0] if len(candidates) == 1 else None


def target_organisation(reference=None):
    """The organisation named (id or slug), else the setup's, else the only one open to sign-up."""
    if reference:
        return _organisation_by_reference(reference)
    workspace = home_organisation() or _only_organisation_with_signup()
    if workspace is None:
        raise ValidationFailed(
            details=[{"field": "organization", "message": "Name the organisation to join (id or slug)."}]
        )
    return workspace


def _check_email_domain(settings, email):
    allowed = settings["allowed_email_domains"]
    if allowed and email.rpartition("@")[2] not in allowed:
        raise EmailDomainNotAllowed(
            "Sign-up is limited to addresses at " + ", ".join(allowed) + ".",
            extra={"allowed_email_domains": allowed},
        )


def _existing_membership_conflict(member):
    if member.status == MEMBER_ACTIVE and member.removed_at is None:
        raise Conflict("You are already a member of this organisation; sign in instead.")
    if member.status == MEMBER_WAITLISTED:
        raise Conflict("This email is already on the organisation's waitlist.")
    if member.status == MEMBER_INVITED:
        raise Conflict("This email has an invitation to this organisation: use the link in the email.")
    raise Forbidden(
        "This account was removed from the organisation; ask an administrator to invite you again."
    )


def _account_for_signup(*, email, password, name, status):
    """A new account, or an existing one whose owner proves it with the password."""
    user = find_user_by_email(email)
    if user is None:
        return create_account(email=email, password=password, name=name, status=status), True
    if not password:
        raise Conflict("This email already has an account: give its password to join the organisation.")
    return auth_service.authenticate(email=email, password=password), False


def _seat_check(workspace):
    """The licence's user limit of `workspace`, which is the workspace in scope."""
    used = db.session.scalar(
        sa.select(sa.func.count(Member.id)).where(
            Member.status.in_((MEMBER_ACTIVE, MEMBER_INVITED)), Member.removed_at.is_(None)
        )
    )
    licensing.check_limit(workspace_id=workspace.id, limit="users", current=used)


def signup(*, email, password, name=None, organization=None, invite_token=None):
    """Join an organisation as its signup settings allow; an invitation always works."""
    if invite_token:
        user, member, workspace, pair = workspaces_service.accept(
            token=invite_token, password=password, name=name
        )
        return SignupOutcome("active", user, workspace, member, pair)
    email = normalise_email(email)
    workspace = target_organisation(organization)
    # Nobody is signed in: the organisation asked for is the workspace this signup works in.
    with workspace_scope(workspace.id):
        return _join_open_organisation(workspace=workspace, email=email, password=password, name=name)


def _join_open_organisation(*, workspace, email, password, name):
    settings = signup_settings(workspace)
    if not settings["enabled"]:
        raise SignupDisabled()
    if settings["mode"] == "invite_only":
        raise InvitationRequired()
    _check_email_domain(settings, email)
    if settings["mode"] == "waitlist":
        return join_waitlist(email=email, password=password, name=name, organization=str(workspace.id))
    if not password:
        raise ValidationFailed(details=[{"field": "password", "message": "Choose a password."}])
    user, _ = _account_for_signup(email=email, password=password, name=name, status=USER_ACTIVE)
    existing = member_of(user.id)
    if existing is not None:
        _existing_membership_conflict(existing)
    _seat_check(workspace)
    member = add_member(workspace=workspace, user=user, role=settings["default_role"])
    user.last_login_at = utcnow()
    pair = auth_service.start_session(user=user, workspace_id=workspace.id)
    return SignupOutcome("active", user, workspace, member, pair)


def join_waitlist(*, email, name=None, password=None, organization=None):
    """Ask to join an organisation whose sign-up is a waitlist; an admin decides later."""
    email = normalise_email(email)
    workspace = target_organisation(organization)
    # Nobody is signed in: the organisation asked for is the workspace this request works in.
    with workspace_scope(workspace.id):
        return _wait_for_organisation(workspace=workspace, email=email, password=password, name=name)


def _wait_for_organisation(*, workspace, email, password, name):
    settings = signup_settings(workspace)
    if not settings["enabled"]:
        raise SignupDisabled()
    if settings["mode"] != "waitlist":
        raise WaitlistClosed(
            "This organisation does not keep a waitlist: "
            + (
                "sign up directly."
                if settings["mode"] == "open"
                else "ask an administrator for an invitation."
            )
        )
    _check_email_domain(settings, email)
    user, _ = _account_for_signup(email=email, password=password, name=name, status=USER_PENDING)
    existing = member_of(user.id)
    if existing is not None:
        _existing_membership_conflict(existing)
    member = add_member(
        workspace=workspace, user=user, role=settings["default_role"], status=MEMBER_WAITLISTED
    )
    return SignupOutcome("pending", user, workspace, member)


def waitlist_query():
    return (
        tenant_select(Member)
        .join(User, User.id == Member.user_id)
        .where(Member.status == MEMBER_WAITLISTED, Member.removed_at.is_(None))
    )


def _waitlisted_member(user_id):
    user_id = parse_uuid(user_id)
    member = db.session.scalar(waitlist_query().where(Member.user_id == user_id)) if user_id else None
    if member is None:
        raise NotFound("No waitlist entry for this user.")
    return member


def approve_waitlist_entry(*, user_id, actor):
    """Let a waiting user in: at once when they chose a password, else through an activation email."""
    member = _waitlisted_member(user_id)
    workspace = member.workspace
    _seat_check(workspace)
    user = member.user
    if user.password_hash is None:
        member.status = MEMBER_INVITED
        auth_service.send_activation_email(user=user, workspace=workspace, invited_by=actor)
    else:
        now = utcnow()
        member.status, member.joined_at = MEMBER_ACTIVE, now
        if user.status == USER_PENDING:
            user.status = USER_ACTIVE
        send_email(
            to=user.email,
            subject=f"You can now sign in to {workspace.name}",
            text=(
                f"Your request to join {workspace.name} on Narrative was approved.\n\n"
                f"Sign in here: {auth_service.public_url('/login')}"
            ),
            workspace_id=workspace.id,
            kind="waitlist_approved",
        )
    return member


def reject_waitlist_entry(*, user_id):
    """Turn a request down: the waiting membership goes, and an account made only for it."""
    member = _waitlisted_member(user_id)
    user = member.user
    db.session.delete(member)
    db.session.flush()
    if user.status == USER_PENDING and members_service.workspace_count(user.id) == 0:
        db.session.delete(user)


# --- public organisations ---------------------------------------------------------------------


def public_organisations_query():
    return sa.select(Workspace).where(
        Workspace.deleted_at.is_(None), Workspace.settings["public"].as_boolean().is_(True)
    )


# --- popup -> iframe session tokens -------------------------------------------------------------


def issue_session_token(*, user, workspace_id):
    """A 60-second single-use token the popup hands to the iframe (stored hashed)."""
    row, raw = tokens.create_one_time_token(
        purpose=SESSION, expires_in=SESSION_TOKEN_SECONDS, user_id=user.id, workspace_id=workspace_id
    )
    return raw, row


def exchange_session_token(*, token):
    """Spend a session token for a session of its user in its organisation (400 invalid_token)."""
    row = tokens.consume_one_time_token(purpose=SESSION, raw=token)
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise tokens.InvalidOneTimeToken()
    pair = auth_service.start_session(user=user, workspace_id=row.workspace_id)
    return user, pair


# --- the organisation ---------------------------------------------------------------------------


def organisation_view(workspace):
    settings = workspace.settings or {}
    member_count = db.session.scalar(
        sa.select(sa.func.count(Member.id)).where(Member.status == MEMBER_ACTIVE)
    )
    return {
        "id": workspace.id,
        "name": workspace.name,
        "slug": workspace.slug,
        "plan": workspace.plan,
        "tier": licensing.current_tier(workspace.id),
        "is_public": bool(settings.get("public")),
        "default_language": settings.get("default_language"),
        "beta_features": list(settings.get("beta_features") or []),
        "settings": {k: v for k, v in settings.items() if k not in RESERVED_SETTINGS},
        "member_count": member_count,
        "logo_file_id": workspace.logo_file_id,
        "created_at": workspace.created_at,
    }


def update_organisation(*, workspace, changes):
    """Name, public listing, default language, beta features and free-form settings (merged)."""
    settings = dict(workspace.settings or {})
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise ValidationFailed(details=[{"field": "name", "message": "An organisation needs a name."}])
        workspace.name = name[:200]
    if "is_public" in changes:
        settings["public"] = bool(changes["is_public"])
    if "default_language" in changes:
        settings["default_language"] = changes["default_language"]
    if "beta_features" in changes:
        settings["beta_features"] = sorted(set(changes["beta_features"] or []))
    for key, value in (changes.get("settings") or {}).items():
        if key in RESERVED_SETTINGS:
            continue
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    workspace.settings = settings
    return workspace


# --- users of the organisation ------------------------------------------------------------------


def users_query(*, search=None, status=None, role=None, include_deleted=False):
    """Members of the organisation (waiting ones only when asked for by status)."""
    query = members_service.members_query(
        search=search, status=status, role=role, include_removed=include_deleted or status == "deactivated"
    )
    if status is None:
        query = query.where(Member.status != MEMBER_WAITLISTED)
    return query


def member_for_user(user_id):
    """The organisation's membership of `user_id`; 404 for anyone else (and malformed ids)."""
    user_id = parse_uuid(user_id)
    member = None
    if user_id is not None:
        member = db.session.scalar(tenant_select(Member).where(Member.user_id == user_id))
    if member is None or member.status == MEMBER_WAITLISTED:
        raise NotFound("User not found.")
    return member


def invite_user(*, workspace, actor_member, email, role="member", name=None):
    """Invite by email (the link goes through the email outbox); returns the membership."""
    _seat_check(workspace)
    member, _url = workspaces_service.invite(
        workspace=workspace, actor_member=actor_member, email=email, role=role
    )
    if name and not member.user.name:
        member.user.name = name
    return member


def update_user(*, actor_member, member, changes):
    members_service.update_member(actor_member=actor_member, member=member, changes=changes)
    return member


def deactivate_user(*, actor_member, member):
    """Soft delete: the membership is deactivated and kept (an unaccepted invitation disappears)."""
    if member.id == actor_member.id:
        raise Conflict("You cannot remove yourself from the organisation here.")
    return members_service.remove_member(actor_member=actor_member, member=member)


# --- my permissions -----------------------------------------------------------------------------


def my_groups(*, user_id, workspace_id):
    """The user's groups in the request's workspace (`workspace_id`; None: no groups)."""
    if workspace_id is None:
        return []
    rows = db.session.execute(
        sa.select(Team, TeamMember.role)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .join(Member, Member.id == TeamMember.member_id)
        .where(Member.user_id == user_id)
        .order_by(Team.name)
    ).all()
    return [{"id": team.id, "name": team.name, "role": role} for team, role in rows]


def my_organisations(user_id):
    # "My organisations": the user's memberships in every workspace, not only the request's.
    with all_workspaces():
        rows = db.session.execute(
            sa.select(Workspace, Member.role)
            .join(Member, Member.workspace_id == Workspace.id)
            .where(Member.user_id == user_id, Member.status == MEMBER_ACTIVE, Workspace.deleted_at.is_(None))
            .order_by(Workspace.name)
        ).all()
    return [
        {"id": ws.id, "name": ws.name, "slug": ws.slug, "plan": ws.plan, "role": role} for ws, role in rows
    ]


# --- groups (the organisation's teams) ----------------------------------------------------------


def group_members(team_ids):
    """{team_id: [member rows with user details]} for a page of groups, in one query."""
    if not team_ids:
        return {}
    rows = db.session.execute(
        sa.select(TeamMember.team_id, TeamMember.role, Member.id, User)
        .join(Member, Member.id == TeamMember.member_id)
        .join(User, User.id == Member.user_id)
        .where(TeamMember.team_id.in_(team_ids))
        .order_by(TeamMember.role == "member", sa.func.lower(sa.func.coalesce(User.name, User.email)))
    ).all()
    grouped = {team_id: [] for team_id in team_ids}
    for team_id, role, member_id, user in rows:
        grouped[team_id].append(
            {"user_id": user.id, "member_id": member_id, "email": user.email, "name": user.name, "role": role}
        )
    return grouped


def group_views(teams):
    members = group_members([team.id for team in teams])
    return [
        {
            "id": team.id,
            "name": team.name,
            "description": team.description,
            "color": team.color,
            "member_count": len(members[team.id]),
            "members": members[team.id],
            "created_at": team.created_at,
        }
        for team in teams
    ]


def active_member_for_user(user_id, *, field=None):
    """The organisation's membership of `user_id` (for adding to or removing from a group).

    404 otherwise, or 422 naming `field` when the id came in the payload.
    """
    try:
        member = member_for_user(user_id)
    except NotFound:
        member = None
    if member is None or member.removed_at is not None:
        if field is not None:
            raise ValidationFailed(
                details=[{"field": field, "message": "No user of this organisation has this id."}]
            )
        raise NotFound("User not found.")
    return member
