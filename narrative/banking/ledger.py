"""The read side of the bank ledger, for metrics, actions, growth and the coach (narrative.money,
narrative.projects, narrative.coach). Plain frozen values, no ORM objects, so callers can cache
and compare them freely.

Contract (stable; other domains code against it):

- ``transactions_until(workspace_id, user_id, as_of) -> list[LedgerTxn]``: every transaction of the
  workspace member booked on or before ``as_of`` (a ``date``), oldest first (then by id, so the
  order is deterministic). ``amount`` is a signed ``Decimal`` (negative = money out) in the
  transaction's ``currency``; ``category`` is always set ("other" when nothing matched).
- ``balances_as_of(workspace_id, user_id, as_of) -> list[AccountBalance]``: one entry per bank
  account of the member, ordered by name then id. ``balance`` as of a date is the account's
  current balance minus the sum of its transactions booked after that date.
- ``user_id=None`` means every member's data in the workspace (workspace-wide figures).
- Both return ``[]`` when the member has no bank data; neither writes anything.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa

from narrative.banking.models import BankAccount, BankTransaction
from narrative.extensions import db


@dataclass(frozen=True)
class LedgerTxn:
    booked_on: date
    amount: Decimal
    currency: str
    description: str
    counterparty: str | None
    category: str
    account_id: UUID | None = None
    id: UUID | None = None


@dataclass(frozen=True)
class AccountBalance:
    account_id: UUID
    name: str
    currency: str
    balance: Decimal
    kind: str = "checking"


def _owned(model, workspace_id, user_id):
    # The contract names its workspace (user_id=None: all of its members); the session's workspace
    # scope applies as well, so a request or a job never reads past its own.
    criteria = [model.workspace_id == workspace_id]
    if user_id is not None:
        criteria.append(model.user_id == user_id)
    return criteria


def transactions_until(workspace_id, user_id, as_of):
    """The member's transactions booked on or before `as_of`, oldest first."""
    rows = db.session.execute(
        sa.select(
            BankTransaction.booked_on,
            BankTransaction.amount,
            BankTransaction.currency,
            BankTransaction.description,
            BankTransaction.counterparty,
            BankTransaction.category,
            BankTransaction.account_id,
            BankTransaction.id,
        )
        .where(*_owned(BankTransaction, workspace_id, user_id), BankTransaction.booked_on <= as_of)
        .order_by(BankTransaction.booked_on, BankTransaction.id)
    ).all()
    return [
        LedgerTxn(
            booked_on=row.booked_on,
            amount=Decimal(row.amount),
            currency=row.currency,
            description=row.description or "",
            counterparty=row.counterparty,
            category=row.category or "other",
            account_id=row.account_id,
            id=row.id,
        )
        for row in rows
    ]


def balances_as_of(workspace_id, user_id, as_of):
    """Each account's balance at the end of `as_of`: current balance minus what was booked later."""
    later = (
        sa.select(BankTransaction.account_id, sa.func.sum(BankTransaction.amount).label("total"))
        .where(*_owned(BankTransaction, workspace_id, user_id), BankTransaction.booked_on > as_of)
        .group_by(BankTransaction.account_id)
    )
    booked_later = {row.account_id: Decimal(row.total or 0) for row in db.session.execute(later)}
    accounts = db.session.scalars(
        sa.select(BankAccount)
        .where(*_owned(BankAccount, workspace_id, user_id))
        .order_by(BankAccount.name, BankAccount.id)
    ).all()
    return [
        AccountBalance(
            account_id=account.id,
            name=account.name,
            currency=account.currency,
            balance=(Decimal(account.balance) - booked_later.get(account.id, Decimal("0"))).quantize(
                Decimal("0.01")
            ),
            kind=account.kind,
        )
        for account in accounts
    ]
