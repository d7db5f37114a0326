"""Bank ledger test data: a statement connection with one account and hand-written transactions.

account = make_account(user)
add_transactions(account, [("2026-01-05", "1200.00", "Invoice 12", "Acme Corp"), ...])
"""

from datetime import date
from decimal import Decimal

from narrative.banking import service
from narrative.banking.models import STATEMENT
from narrative.extensions import db
from narrative.platform.tenancy import workspace_scope
from tests.identity.factories import workspace_of


def make_account(user, *, name="Checking", currency="EUR", workspace=None, external_id=None):
    workspace = workspace or workspace_of(user)
    with workspace_scope(workspace.id):  # as an import job runs: in the account's workspace
        connection = service.get_or_create_connection(
            workspace_id=workspace.id,
            user_id=user.id,
            provider=STATEMENT,
            external_id=f"statement:{user.id}",
            institution_name="Test bank",
        )
        account = service.get_or_create_account(
            connection=connection, external_id=external_id or name.lower(), name=name, currency=currency
        )
    db.session.commit()
    return account


def incoming(rows, currency="EUR"):
    return [
        service.IncomingTxn(
            booked_on=date.fromisoformat(day),
            amount=Decimal(amount),
            currency=currency,
            description=description,
            counterparty=counterparty,
        )
        for day, amount, description, counterparty in rows
    ]


def add_transactions(account, rows, *, balance=None):
    added = service.store_transactions(account, incoming(rows, account.currency))
    service.refresh_balance(account, balance=balance)
    db.session.commit()
    return added
