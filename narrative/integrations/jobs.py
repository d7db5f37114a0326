"""RQ jobs of the integrations: the SaltEdge sync and the statement import.

Both are idempotent: transactions are de-duplicated by fingerprint (narrative.banking.service), so
a retry or a second run adds nothing it already added. Work is checkpointed (committed by the job
runner's `checkpoint`) page by page, so an interrupted sync keeps what it stored and the next run
continues cheaply; the runner commits the rest when the job returns. Checkpoints also keep the
session from holding SQLite's write lock, which the progress rows (their own connection) need.
"""

import uuid
from decimal import Decimal

from narrative.banking import service as ledger
from narrative.banking.categories import user_rules
from narrative.banking.models import SALTEDGE, STATEMENT
from narrative.extensions import db
from narrative.integrations import saltedge
from narrative.integrations.models import CONNECTED, ERROR, Integration
from narrative.integrations.statements import StatementError, read_statement
from narrative.platform.jobs import JobError, current_progress
from narrative.platform.models import utcnow
from narrative.platform.storage import StoredFile, open_file

# SaltEdge account `nature` -> our account kind.
ACCOUNT_KINDS = {
    "account": "checking",
    "checking": "checking",
    "savings": "savings",
    "card": "card",
    "credit_card": "card",
    "debit_card": "card",
    "credit": "loan",
    "loan": "loan",
    "mortgage": "loan",
}

# SaltEdge's category codes -> ours (only used where our own rules find nothing).
PROVIDER_CATEGORIES = {
    "bank_charges": "bank_fees",
    "fees": "bank_fees",
    "bank_fees": "bank_fees",
    "rent": "rent",
    "office_rent": "rent",
    "salary": "payroll",
    "wages": "payroll",
    "payroll": "payroll",
    "taxes": "taxes",
    "tax": "taxes",
    "utilities": "utilities",
    "software": "software",
    "advertising": "marketing",
    "marketing": "marketing",
    "travel": "travel",
    "business_travel": "travel",
    "transfer": "transfers",
    "transfers": "transfers",
    "income": "revenue",
    "sales": "revenue",
    "revenue": "revenue",
}


def _load_integration(integration_id):
    # The runner scopes the job to its workspace: another workspace's id is "gone" too.
    integration = db.session.get(Integration, uuid.UUID(integration_id))
    if integration is None:
        raise JobError("The integration no longer exists.")
    return integration


# ---- SaltEdge ------------------------------------------------------------------------------------


def _incoming_from_saltedge(item, currency):
    extra = item.get("extra") or {}
    amount = Decimal(str(item.get("amount")))
    counterparty = extra.get("payee") if amount < 0 else extra.get("payer")
    counterparty = counterparty or extra.get("payee") or extra.get("payer") or extra.get("merchant_id")
    return ledger.IncomingTxn(
        booked_on=_date(item.get("made_on")),
        amount=amount,
        currency=item.get("currency_code") or currency,
        description=item.get("description") or "",
        counterparty=counterparty,
        external_id=str(item["id"]),
        provider_category=PROVIDER_CATEGORIES.get(item.get("category") or ""),
        details={key: extra[key] for key in ("payee", "payer", "type", "category_code") if extra.get(key)},
    )


def _date(text):
    from datetime import date

    return date.fromisoformat(str(text)[:10])


def _wanted(item):
    # Pending transactions come back later as posted ones with another id: only posted ones count.
    return item.get("status", "posted") == "posted" and not item.get("duplicated")


def _sync_connection(client, integration, remote, rules, progress, share):
    connection = ledger.get_or_create_connection(
        workspace_id=integration.workspace_id,
        user_id=integration.user_id,
        provider=SALTEDGE,
        external_id=remote["id"],
        institution_name=remote.get("provider_name"),
        integration_id=integration.id,
        status=remote.get("status") or "active",
    )
    added = 0
    accounts = list(client.accounts(remote["id"]))
    for index, remote_account in enumerate(accounts):
        progress.check_cancelled()
        account = ledger.get_or_create_account(
            connection=connection,
            external_id=remote_account["id"],
            name=remote_account.get("name") or "Account",
            currency=remote_account.get("currency_code") or "EUR",
            kind=ACCOUNT_KINDS.get(remote_account.get("nature"), "other"),
        )
        for pages, page in enumerate(client.transaction_pages(remote["id"], remote_account["id"]), start=1):
            progress.check_cancelled()
            incoming = [_incoming_from_saltedge(item, account.currency) for item in page if _wanted(item)]
            added += ledger.store_transactions(account, incoming, rules=rules)
            progress.checkpoint(
                progress=share[0] + (share[1] - share[0]) * (index + 0.5) / max(len(accounts), 1),
                step="transactions",
                message=f"{account.name}: page {pages}, {added} new transactions",
            )
        if remote_account.get("balance") is not None:
            ledger.refresh_balance(account, balance=remote_account["balance"], balance_at=utcnow().date())
        else:
            ledger.refresh_balance(account)
        progress.checkpoint()
    connection.last_synced_at = utcnow()
    return added, len(accounts)


def sync_saltedge(integration_id, connection_id=None):
    """Pull the integration's SaltEdge connections (or one), their accounts and transactions."""
    progress = current_progress()
    integration = _load_integration(integration_id)
    client = saltedge.SaltEdgeClient.from_settings()
    progress.report(progress=2, step="connections", message="Reading the bank connections")
    try:
        if connection_id:
            remotes = [client.connection(connection_id)]
        else:
            remotes = list(client.connections(integration.external_id))
        rules = user_rules(integration.workspace_id, integration.user_id)
        added = accounts = 0
        for index, remote in enumerate(remotes):
            share = (5 + 90 * index / len(remotes), 5 + 90 * (index + 1) / len(remotes))
            new, count = _sync_connection(client, integration, remote, rules, progress, share)
            added += new
            accounts += count
    except saltedge.SaltEdgeError as error:
        # Finished pages are checkpointed; drop the unfinished one, then record the error so it
        # survives the runner's rollback of the failed job.
        db.session.rollback()
        integration = _load_integration(integration_id)
        integration.status = ERROR
        integration.last_error = error.message
        progress.checkpoint()
        raise JobError(error.message) from None
    finally:
        client.close()
    integration.status = CONNECTED
    integration.last_error = None
    integration.last_synced_at = utcnow()
    progress.checkpoint(progress=100, step="done", message=f"{added} new transactions in {accounts} accounts")
    return {"connections": len(remotes), "accounts": accounts, "imported": added}


# ---- statements ----------------------------------------------------------------------------------


def _read_text(stored):
    with open_file(stored) as handle:
        raw = handle.read()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def import_statement(stored_file_id, integration_id, options):
    """Read a stored statement and add its transactions to the member's statement account."""
    progress = current_progress()
    integration = _load_integration(integration_id)
    stored = db.session.get(StoredFile, uuid.UUID(stored_file_id))
    if stored is None:
        raise JobError("The uploaded statement is gone; upload it again.")
    progress.report(progress=5, step="reading", message=f"Reading {stored.filename}")
    try:
        statement = read_statement(
            _read_text(stored),
            filename=stored.filename,
            file_format=options.get("format"),
            mapping=options.get("mapping"),
            default_currency=options.get("currency"),
        )
    except StatementError as error:
        raise JobError(str(error)) from None
    currency = (options.get("currency") or statement.currency or "EUR").upper()
    name = (
        options.get("account_name")
        or statement.account_name
        or (f"Account {statement.account_id}" if statement.account_id else "Imported account")
    )
    connection = ledger.get_or_create_connection(
        workspace_id=integration.workspace_id,
        user_id=integration.user_id,
        provider=STATEMENT,
        external_id=f"statement:{integration.user_id}",
        institution_name=statement.institution or "Bank statements",
        integration_id=integration.id,
    )
    account = ledger.get_or_create_account(
        connection=connection,
        # The file's account number when it has one (OFX), else the name the member gave it.
        external_id=statement.account_id or name.strip().lower(),
        name=name,
        currency=currency,
    )
    # Checkpointed before each report: the job row is written on a connection of its own, which on
    # SQLite would wait out the busy timeout behind this session's open write transaction.
    progress.checkpoint(
        progress=20, step="storing", message=f"{len(statement.transactions)} transactions read"
    )
    rules = user_rules(integration.workspace_id, integration.user_id)
    added, chunk = 0, 500
    total = len(statement.transactions)
    for start in range(0, total, chunk):
        progress.check_cancelled()
        added += ledger.store_transactions(
            account, statement.transactions[start : start + chunk], rules=rules
        )
        # A chunk at a time: a failure keeps what is stored, and a rerun skips it (fingerprints).
        progress.checkpoint(
            progress=20 + 75 * min(start + chunk, total) / total,
            step="storing",
            message=f"{min(start + chunk, total)} of {total} transactions stored",
        )
    balance = options.get("balance") or statement.balance
    ledger.roll_balance_forward(account, balance=balance, balance_at=statement.balance_at)
    connection.last_synced_at = integration.last_synced_at = utcnow()
    integration.status = CONNECTED
    skipped = total - added
    progress.checkpoint(
        progress=100, step="done", message=f"{added} new transactions, {skipped} already imported"
    )
    return {"accountId": str(account.id), "read": total, "imported": added, "duplicates": skipped}
