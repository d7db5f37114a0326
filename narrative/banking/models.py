"""The bank ledger of a workspace member: connections, accounts, transactions, category rules.

- `BankConnection`: one source of bank data: a SaltEdge connection ("saltedge"), an imported
  statement ("statement") or the demo data ("demo"), optionally under an `Integration` row.
- `BankAccount`: an account of a connection with its currency and its balance at `balance_at`
  (for statements and the demo: the closing balance; for SaltEdge: the balance at the last sync).
- `BankTransaction`: one booked movement; `amount` is signed (negative = money out). Its
  `fingerprint` is unique per account: the provider's transaction id when there is one, else a
  hash of the normalised date, amount, description and counterparty (narrative.banking.fingerprint),
  so re-importing a statement or re-syncing a provider never duplicates a row (inserts use
  ON CONFLICT DO NOTHING on both SQLite and PostgreSQL, see narrative.banking.service).
- `CategoryRule`: a user's correction remembered for later imports: transactions whose
  counterparty (or description) contains `pattern` get `category`.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime
from narrative.platform.tenancy import WorkspaceScoped

# BankConnection.provider
SALTEDGE = "saltedge"
STATEMENT = "statement"
DEMO = "demo"

# BankTransaction.category_source
SOURCE_RULE = "rule"
SOURCE_USER = "user"
SOURCE_PROVIDER = "provider"

# CategoryRule.match_field
MATCH_COUNTERPARTY = "counterparty"
MATCH_DESCRIPTION = "description"

Money = sa.Numeric(18, 2)


def _workspace_fk():
    return mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True)


def _user_fk():
    return mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)


class BankConnection(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "bank_connections"
    __display_name__ = "Bank connection"
    __table_args__ = (
        sa.UniqueConstraint(
            "workspace_id", "provider", "external_id", name="uq_bank_connections_provider_external"
        ),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    user_id: Mapped[uuid.UUID | None] = _user_fk()
    integration_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("integrations.id", ondelete="SET NULL"), index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    # SaltEdge's connection id; for statements and the demo a stable key of our own.
    external_id: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    institution_name: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(30), nullable=False, default="active")
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BankAccount(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "bank_accounts"
    __display_name__ = "Bank account"
    __table_args__ = (
        sa.UniqueConstraint("connection_id", "external_id", name="uq_bank_accounts_connection_external"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    user_id: Mapped[uuid.UUID | None] = _user_fk()
    connection_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("bank_connections.id", ondelete="CASCADE"), nullable=False, index=True
    )
    external_id: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    balance: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal("0"))
    balance_at: Mapped[date | None] = mapped_column(sa.Date)
    # checking | savings | card | loan | other
    kind: Mapped[str] = mapped_column(sa.String(30), nullable=False, default="checking")


class BankTransaction(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "bank_transactions"
    __display_name__ = "Transaction"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "fingerprint", name="uq_bank_transactions_account_fingerprint"),
        sa.Index("ix_bank_transactions_workspace_user_booked", "workspace_id", "user_id", "booked_on"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    user_id: Mapped[uuid.UUID | None] = _user_fk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("bank_accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    booked_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    counterparty: Mapped[str | None] = mapped_column(sa.String(255))
    category: Mapped[str] = mapped_column(sa.String(40), nullable=False, default="other")
    category_source: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=SOURCE_RULE)
    fingerprint: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    # What the source said beyond our columns (SaltEdge `extra`, OFX TRNTYPE...).
    details: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)


class CategoryRule(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "category_rules"
    __display_name__ = "Category rule"
    __table_args__ = (
        sa.UniqueConstraint(
            "workspace_id", "user_id", "match_field", "pattern", name="uq_category_rules_match"
        ),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    user_id: Mapped[uuid.UUID | None] = _user_fk()
    # counterparty | description: which text `pattern` (lower case) is looked for in.
    match_field: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=MATCH_COUNTERPARTY)
    pattern: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    category: Mapped[str] = mapped_column(sa.String(40), nullable=False)
