"""Users, workspaces (the tenant of every family), memberships, roles and teams.

Credentials (refresh tokens, single-use tokens, API keys) live in `credential_models`; they are
re-exported here so `from narrative.identity.models import ApiKey` keeps working.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime
from narrative.platform.tenancy import WorkspaceScoped

# The system roles, most powerful first; workspaces may add custom roles (`Role` rows).
ROLES = ("owner", "admin", "member", "viewer")

# User.status: pending until the account is activated (invited or legacy-registered users),
# disabled users cannot sign in and lose every session.
USER_PENDING = "pending"
USER_ACTIVE = "active"
USER_DISABLED = "disabled"
USER_STATUSES = (USER_PENDING, USER_ACTIVE, USER_DISABLED)

# Member.status
MEMBER_INVITED = "invited"
MEMBER_ACTIVE = "active"
MEMBER_DEACTIVATED = "deactivated"
MEMBER_STATUSES = (MEMBER_INVITED, MEMBER_ACTIVE, MEMBER_DEACTIVATED)

TEAM_ROLES = ("lead", "member")


class User(IdMixin, TimestampMixin, db.Model):
    """A person; global across workspaces (one login, many memberships)."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(sa.String(320), unique=True, nullable=False)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default=USER_ACTIVE, nullable=False)
    # Platform administrator: the organisation assistant's /admin area and operations checks.
    is_platform_admin: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(50))
    bio: Mapped[str | None] = mapped_column(sa.Text)
    # Either an uploaded picture (a stored file) or an external URL the user gave.
    avatar_file_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    avatar_url: Mapped[str | None] = mapped_column(sa.String(1000))
    locale: Mapped[str | None] = mapped_column(sa.String(20))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    # External identity providers that may sign this user in.
    clerk_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every token issued before this instant is refused (password change/reset, disabling).
    sessions_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # TOTP (RFC 6238): the secret, when MFA is switched on, and the hashes of unused backup codes.
    mfa_secret: Mapped[str | None] = mapped_column(sa.String(64))
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mfa_backup_code_hashes: Mapped[list] = mapped_column(JSONType, default=list, nullable=False)

    memberships: Mapped[list["Member"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", foreign_keys="Member.user_id"
    )

    @property
    def is_active(self):
        return self.status == USER_ACTIVE

    @property
    def mfa_enabled(self):
        return self.mfa_enabled_at is not None


class Workspace(IdMixin, TimestampMixin, db.Model):
    """The tenant: the SDK's tenantId, the assistant's organisation, narrowapi's account."""

    __tablename__ = "workspaces"

    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True, nullable=False)
    plan: Mapped[str] = mapped_column(sa.String(40), default="free", nullable=False)
    settings: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    logo_file_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    members: Mapped[list["Member"]] = relationship(back_populates="workspace", cascade="all, delete-orphan")


class Member(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    """A user in a workspace with a role (a system role key or a custom `Role.key`)."""

    __tablename__ = "members"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "user_id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    role: Mapped[str] = mapped_column(sa.String(40), default="member", nullable=False)
    status: Mapped[str] = mapped_column(sa.String(20), default=MEMBER_ACTIVE, nullable=False)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    avatar_file_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    # Product tours the member has seen: {"tour_key": {"completed": true, "step": 3}}.
    tours: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    workspace: Mapped[Workspace] = relationship(back_populates="members")

    @property
    def is_active(self):
        return self.status == MEMBER_ACTIVE


class Role(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    """A workspace's custom role, or its override of a system role's permissions.

    System roles need no row: their permissions are the catalog defaults
    (`permissions.default_permissions`). A row with `permissions = None` also means "defaults", so
    resetting a role to its defaults is setting `permissions` to None.
    """

    __tablename__ = "roles"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "key"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    key: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    is_system: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    permissions: Mapped[list | None] = mapped_column(JSONType)


class Team(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "teams"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    color: Mapped[str | None] = mapped_column(sa.String(20))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    memberships: Mapped[list["TeamMember"]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )


class TeamMember(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "team_members"
    __table_args__ = (sa.UniqueConstraint("team_id", "member_id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    team_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="CASCADE"), index=True, nullable=False
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), index=True, nullable=False
    )
    role: Mapped[str] = mapped_column(sa.String(20), default="member", nullable=False)

    team: Mapped[Team] = relationship(back_populates="memberships")
    member: Mapped[Member] = relationship()


from narrative.identity.credential_models import ApiKey, OneTimeToken, RefreshToken  # noqa: E402

__all__ = [
    "ROLES",
    "ApiKey",
    "Member",
    "OneTimeToken",
    "RefreshToken",
    "Role",
    "Team",
    "TeamMember",
    "User",
    "Workspace",
]
