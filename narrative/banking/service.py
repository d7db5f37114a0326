"""Writing the bank ledger: connections, accounts, de-duplicated transactions, category overrides.

Every source (SaltEdge sync, statement import, demo seed) ends in `store_transactions`, which
computes each row's fingerprint and inserts with ON CONFLICT DO NOTHING on the per-account unique
(account_id, fingerprint), so running an import or a sync twice adds nothing the second time.
"""

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from narrative.banking.categories import CATEGORIES, categorise, user_rules
from narrative.banking.models import (
    MATCH_COUNTERPARTY,
    MATCH_DESCRIPTION,
    SOURCE_PROVIDER,
    SOURCE_RULE,
    SOURCE_USER,
    BankAccount,
    BankConnection,
    BankTransaction,
    CategoryRule,
)
from narrative.extensions import db
from narrative.platform.errors import ValidationFailed
from narrative.platform.models import new_id, utcnow

CENT = Decimal("0.01")
INSERT_CHUNK = 500


@dataclass
class IncomingTxn:
    """One transaction as a source reads it, before de-duplication and categorisation."""

    booked_on: date
    amount: Decimal
    currency: str
    description: str = ""
    counterparty: str | None = None
    external_id: str | None = None
    # The provider's own category (SaltEdge); used only when no rule of ours says better.
    provider_category: str | None = None
    details: dict = field(default_factory=dict)


def money(value):
    """A Decimal with two places from text or a number; '1.234,50' and '(12.00)' are understood."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float):
        number = Decimal(str(value))
    else:
        text = str(value or "").strip().replace("\u2212", "-").replace(" ", "").replace("\u00a0", "")
        negative = text.startswith("(") and text.endswith(")")
        text = text.strip("()")
        text = re.sub(r"[^\d,.\-+]", "", text)
        if "," in text and "." in text:
            # The last separator is the decimal one.
            text = (
                text.replace(".", "").replace(",", ".")
                if text.rfind(",") > text.rfind(".")
                else text.replace(",", "")
            )
        elif "," in text:
            head, _, tail = text.rpartition(",")
            text = head.replace(",", "") + "." + tail if len(tail) != 3 else text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
        if negative:
            number = -abs(number)
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def _normalised(text):
    return re.sub(r"\s+", " ", (text or "").strip().lower())


def fingerprint(txn, occurrence=0):
    """Stable identity of a transaction within its account.

    The provider's id when it has one; else a hash of the normalised date, amount, description and
    counterparty, plus the occurrence number when the same source holds identical rows (two equal
    coffees on one day stay two rows, and re-importing the file still matches them).
    """
    if txn.external_id:
        return "id:" + str(txn.external_id)[:120]
    parts = [
        txn.booked_on.isoformat(),
        f"{money(txn.amount):.2f}",
        _normalised(txn.description),
        _normalised(txn.counterparty),
    ]
    if occurrence:
        parts.append(str(occurrence))
    return "h:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def get_or_create_connection(
    *,
    workspace_id,
    user_id,
    provider,
    external_id,
    institution_name=None,
    integration_id=None,
    status="active",
):
    connection = db.session.scalar(
        sa.select(BankConnection).where(
            BankConnection.provider == provider, BankConnection.external_id == str(external_id)
        )
    )
    if connection is None:
        connection = BankConnection(
            workspace_id=workspace_id,
            user_id=user_id,
            provider=provider,
            external_id=str(external_id),
            institution_name=institution_name,
            integration_id=integration_id,
            status=status,
        )
        db.session.add(connection)
        db.session.flush()
    else:
        connection.institution_name = institution_name or connection.institution_name
        connection.integration_id = integration_id or connection.integration_id
        connection.status = status
    return connection


def get_or_create_account(*, connection, external_id, name, currency, kind="checking"):
    account = db.session.scalar(
        sa.select(BankAccount).where(
            BankAccount.connection_id == connection.id, BankAccount.external_id == str(external_id)
        )
    )
    if account is None:
        account = BankAccount(
            workspace_id=connection.workspace_id,
            user_id=connection.user_id,
            connection_id=connection.id,
            external_id=str(external_id),
            name=name,
            currency=currency.upper(),
            balance=Decimal("0"),
            kind=kind,
        )
        db.session.add(account)
        db.session.flush()
    return account


def _insert_ignoring_duplicates(rows):
    """INSERT ... ON CONFLICT (account_id, fingerprint) DO NOTHING; returns how many were new."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(BankTransaction).on_conflict_do_nothing(index_elements=["account_id", "fingerprint"])
    inserted = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        result = db.session.execute(
            stmt.values(rows[start : start + INSERT_CHUNK]).returning(BankTransaction.id)
        )
        inserted += len(result.all())
    return inserted


def store_transactions(account, incoming, *, rules=None):
    """Add `incoming` (IncomingTxn) to `account`, skipping what it already holds; returns the count added.

    Categories: the member's rules, then the keyword rules; the provider's category is kept only
    where our rules found nothing but "other".
    """
    if rules is None:
        rules = user_rules(account.workspace_id, account.user_id)
    seen = Counter()
    rows, now = [], utcnow()
    for txn in incoming:
        amount = money(txn.amount)
        base = fingerprint(txn)
        occurrence = seen[base]
        seen[base] += 1
        category, source = categorise(
            amount=amount, description=txn.description, counterparty=txn.counterparty, rules=rules
        )
        if category == "other" and txn.provider_category in CATEGORIES:
            category, source = txn.provider_category, SOURCE_PROVIDER
        rows.append(
            {
                "id": new_id(),
                "created_at": now,
                "updated_at": now,
                "workspace_id": account.workspace_id,
                "user_id": account.user_id,
                "account_id": account.id,
                "external_id": txn.external_id,
                "booked_on": txn.booked_on,
                "amount": amount,
                "currency": (txn.currency or account.currency).upper()[:3],
                "description": (txn.description or "").strip(),
                "counterparty": (txn.counterparty or "").strip()[:255] or None,
                "category": category,
                "category_source": source,
                "fingerprint": fingerprint(txn, occurrence) if not txn.external_id else base,
                "details": txn.details or {},
            }
        )
    return _insert_ignoring_duplicates(rows)


def transactions_query(*, user_id, account_id=None, category=None, date_from=None, date_to=None):
    """The member's transactions in the workspace in scope, with the list filters."""
    stmt = sa.select(BankTransaction).where(BankTransaction.user_id == user_id)
    if account_id is not None:
        stmt = stmt.where(BankTransaction.account_id == account_id)
    if category:
        stmt = stmt.where(BankTransaction.category == category)
    if date_from:
        stmt = stmt.where(BankTransaction.booked_on >= date_from)
    if date_to:
        stmt = stmt.where(BankTransaction.booked_on <= date_to)
    return stmt


def accounts_of(*, user_id):
    """The member's accounts in the workspace in scope."""
    return db.session.scalars(
        sa.select(BankAccount)
        .where(BankAccount.user_id == user_id)
        .order_by(BankAccount.name, BankAccount.id)
    ).all()


def remember_rule(*, workspace_id, user_id, match_field, pattern, category):
    pattern = _normalised(pattern)
    rule = db.session.scalar(
        sa.select(CategoryRule).where(
            CategoryRule.user_id == user_id,
            CategoryRule.match_field == match_field,
            CategoryRule.pattern == pattern,
        )
    )
    if rule is None:
        rule = CategoryRule(
            workspace_id=workspace_id, user_id=user_id, match_field=match_field, pattern=pattern
        )
        db.session.add(rule)
    rule.category = category
    db.session.flush()
    return rule


def set_category(transaction, *, category, user_id, remember=True):
    """The member's correction: this transaction's category, remembered for the next imports.

    The rule matches the counterparty (or, without one, the description); transactions already
    in the ledger that our rules (not the member) categorised from the same text follow it too.
    """
    if category not in CATEGORIES:
        raise ValidationFailed(
            details=[{"field": "category", "message": "One of: " + ", ".join(CATEGORIES) + "."}]
        )
    transaction.category = category
    transaction.category_source = SOURCE_USER
    rule = None
    if remember:
        if transaction.counterparty:
            match_field, text = MATCH_COUNTERPARTY, transaction.counterparty
            column = BankTransaction.counterparty
        else:
            match_field, text = MATCH_DESCRIPTION, transaction.description
            column = BankTransaction.description
        if _normalised(text):
            rule = remember_rule(
                workspace_id=transaction.workspace_id,
                user_id=transaction.user_id,
                match_field=match_field,
                pattern=text,
                category=category,
            )
            db.session.execute(
                sa.update(BankTransaction)
                .where(
                    BankTransaction.user_id == transaction.user_id,
                    sa.func.lower(column) == _normalised(text),
                    BankTransaction.category_source.in_((SOURCE_RULE, SOURCE_PROVIDER)),
                )
                .values(category=category, category_source=SOURCE_USER)
                .execution_options(synchronize_session=False)
            )
    db.session.flush()
    return rule


def refresh_balance(account, *, balance=None, balance_at=None):
    """Set the account's balance from the source, or, without one, from the sum of its transactions."""
    if balance is None:
        balance = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(BankTransaction.amount), 0)).where(
                BankTransaction.account_id == account.id
            )
        )
    account.balance = money(balance)
    if balance_at is None:
        balance_at = db.session.scalar(
            sa.select(sa.func.max(BankTransaction.booked_on)).where(BankTransaction.account_id == account.id)
        )
    account.balance_at = balance_at
    db.session.flush()
    return account


def roll_balance_forward(account, *, balance=None, balance_at=None):
    """Keep the account's balance current after an import that may or may not state one.

    - A stated balance is taken when it is at least as recent as the one the account holds (an
      older statement imported late must not wind the balance back).
    - Without one, the first import's balance is the sum of the account's transactions; later
      imports add what was booked after the balance's date.
    """
    if balance is not None:
        stated_at = balance_at or db.session.scalar(
            sa.select(sa.func.max(BankTransaction.booked_on)).where(BankTransaction.account_id == account.id)
        )
        if account.balance_at is None or stated_at is None or stated_at >= account.balance_at:
            return refresh_balance(account, balance=balance, balance_at=stated_at)
    if account.balance_at is None:
        return refresh_balance(account)
    later = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(BankTransaction.amount), 0), sa.func.max(BankTransaction.booked_on)
        ).where(BankTransaction.account_id == account.id, BankTransaction.booked_on > account.balance_at)
    ).one()
    if later[1] is not None:
        return refresh_balance(
            account, balance=Decimal(account.balance) + Decimal(later[0]), balance_at=later[1]
        )
    return account
