"""The member's bank accounts and transactions, and category corrections.

Beyond the catalog (what SDK clients need to show and fix the ledger the money metrics are
computed from), so they are registered on a plain Flask blueprint, kept out of the OpenAPI
document whose operation ids are catalog ids. Responses are camelCase like the SDK family.
"""

import flask
import marshmallow as ma
from flask import request

from narrative.banking import service
from narrative.banking.models import BankAccount, BankTransaction
from narrative.banking.schemas import (
    BankAccountListSchema,
    BankTransactionSchema,
    TransactionListArgs,
    TransactionUpdateSchema,
)
from narrative.identity.access import current_user, require
from narrative.platform.errors import NotFound, ValidationFailed, flatten_messages
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.tenancy import get_or_404, resolve_reference

extra = flask.Blueprint("banking_extra", __name__)


def load_or_422(schema, data):
    """`schema.load(data)`, a marshmallow error becoming the platform's 422 validation_failed."""
    try:
        return schema.load(data)
    except ma.ValidationError as error:
        raise ValidationFailed(details=flatten_messages(error.messages)) from None


def _own_account(account_id):
    """The caller's account a filter names: another member's, another workspace's or an unknown one is a 422."""
    message = f"Bank account {account_id} is not one of your accounts."
    account = resolve_reference(BankAccount, account_id, field="accountId", message=message)
    if account is not None and account.user_id != current_user().id:
        raise ValidationFailed(details=[{"field": "accountId", "message": message}])
    return account


@extra.route("/api/money/accounts")
@require("banking.read")
def list_accounts():
    """My bank accounts with their balances."""
    accounts = service.accounts_of(user_id=current_user().id)
    return BankAccountListSchema().dump({"items": accounts})


@extra.route("/api/money/transactions")
@require("banking.read")
def list_transactions():
    """My bank transactions, newest first (cursor pagination: limit, cursor -> next_cursor)."""
    args = load_or_422(TransactionListArgs(), request.args.to_dict())
    account = _own_account(args.pop("account_id"))
    stmt = service.transactions_query(
        user_id=current_user().id,
        account_id=account.id if account else None,
        category=args.pop("category"),
        date_from=args.pop("date_from"),
        date_to=args.pop("date_to"),
    )
    page = paginate(
        stmt, args, style="cursor", order_by=(BankTransaction.booked_on.desc(), BankTransaction.id.desc())
    )
    return page_schema(BankTransactionSchema, "cursor")().dump(page)


@extra.route("/api/money/transactions/<transaction_id>", methods=["PATCH"])
@require("banking.write")
def update_transaction(transaction_id):
    """Set a transaction's category; the choice is remembered for later imports."""
    transaction = get_or_404(BankTransaction, transaction_id)
    if transaction.user_id != current_user().id:
        raise NotFound("Transaction not found.")
    payload = load_or_422(TransactionUpdateSchema(), request.get_json(silent=True) or {})
    service.set_category(
        transaction, category=payload["category"], user_id=current_user().id, remember=payload["remember"]
    )
    return BankTransactionSchema().dump(transaction)
