"""Payloads of the bank ledger endpoints (SDK family: camelCase on the wire via data_key)."""

import marshmallow as ma

from narrative.banking.categories import CATEGORIES
from narrative.platform.pagination import CursorPageArgs
from narrative.platform.schemas import Schema


class BankAccountSchema(Schema):
    id = ma.fields.UUID()
    connection_id = ma.fields.UUID(data_key="connectionId")
    name = ma.fields.String()
    currency = ma.fields.String()
    balance = ma.fields.Decimal(as_string=True)
    balance_at = ma.fields.Date(data_key="balanceAt", allow_none=True)
    kind = ma.fields.String()


class BankAccountListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(BankAccountSchema))


class BankTransactionSchema(Schema):
    id = ma.fields.UUID()
    account_id = ma.fields.UUID(data_key="accountId")
    booked_on = ma.fields.Date(data_key="bookedOn")
    amount = ma.fields.Decimal(as_string=True)
    currency = ma.fields.String()
    description = ma.fields.String()
    counterparty = ma.fields.String(allow_none=True)
    category = ma.fields.String()
    category_source = ma.fields.String(data_key="categorySource")


class TransactionListArgs(CursorPageArgs):
    account_id = ma.fields.UUID(data_key="accountId", load_default=None)
    category = ma.fields.String(load_default=None, validate=ma.validate.OneOf(CATEGORIES))
    date_from = ma.fields.Date(data_key="from", load_default=None)
    date_to = ma.fields.Date(data_key="to", load_default=None)


class TransactionUpdateSchema(Schema):
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(CATEGORIES))
    remember = ma.fields.Boolean(
        load_default=True,
        metadata={"description": "Remember the choice for this counterparty in later imports"},
    )
