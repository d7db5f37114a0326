"""A small business's hand-made bank ledger, with every figure the money views must show worked
out by hand below (as of 2026-11-15: the last complete month L is October 2026).

Accounts (EUR unless said): Main (balance 2,377.00 today; a +777.00 on 2026-11-20 comes after
asOfDate, so 1,600.00 as of 2026-11-15), Savings 1,000.00 (an own-account transfer of 1,000.00 from
Main on 2026-10-30), US 500.00 USD (a USD payment from Gamma Inc: another currency, left out).

Every month May-October 2026 (EUR): Acme GmbH pays 4,000 (5th); Beta Ltd pays 1,000 in May, June and
July, 1,500 in August and September, 2,000 in October (20th); rent 2,000 to Landlord Co (1st);
payroll 3,500 (28th); Slack 50 (10th, software; charged twice in October: 10th and 12th);
Google Ads 300 (15th, marketing; 900 in October). Notion charges 10 and 16 (15th and 18th, software)
from August; Figma 45 (25th, software) from September. November to the 15th: rent 2,000, Acme 4,000,
Slack 50.

Income / expenses by month: May-July 5,000 / 5,850; August 5,500 / 5,876; September 5,500 / 5,921;
October 6,000 / 6,571 (payroll 3,500, rent 2,000, marketing 900, software 171).
"""

from datetime import date, timedelta
from decimal import Decimal

from narrative.banking.models import BankAccount, BankConnection, BankTransaction
from narrative.extensions import db

AS_OF = date(2026, 11, 15)
MONTHS = [(2026, m) for m in range(5, 11)]  # May..October 2026


class LedgerBuilder:
    """Inserts bank rows for one member, as a sync or an import would."""

    def __init__(self, user, workspace_id):
        self.user_id = user.id
        self.workspace_id = workspace_id
        self.connection = BankConnection(
            workspace_id=workspace_id, user_id=user.id, provider="demo", external_id=f"test-{user.id}"
        )
        db.session.add(self.connection)
        db.session.flush()
        self.count = 0

    def account(self, name, currency, balance, kind="checking"):
        account = BankAccount(
            workspace_id=self.workspace_id,
            user_id=self.user_id,
            connection_id=self.connection.id,
            external_id=name,
            name=name,
            currency=currency,
            balance=Decimal(balance),
            kind=kind,
        )
        db.session.add(account)
        db.session.flush()
        return account

    def txn(self, account, day, amount, counterparty, category, description=None):
        self.count += 1
        db.session.add(
            BankTransaction(
                workspace_id=self.workspace_id,
                user_id=self.user_id,
                account_id=account.id,
                booked_on=day,
                amount=Decimal(str(amount)),
                currency=account.currency,
                description=description or counterparty,
                counterparty=counterparty,
                category=category,
                fingerprint=f"t{self.count}",
            )
        )


def build_small_business(user, workspace_id):
    """The ledger described in the module docstring."""
    b = LedgerBuilder(user, workspace_id)
    main = b.account("Main", "EUR", "2377.00")
    savings = b.account("Savings", "EUR", "1000.00", kind="savings")
    us = b.account("US", "USD", "500.00")
    beta = {5: 1000, 6: 1000, 7: 1000, 8: 1500, 9: 1500, 10: 2000}
    for year, month in MONTHS:
        b.txn(main, date(year, month, 1), -2000, "Landlord Co", "rent")
        b.txn(main, date(year, month, 5), 4000, "Acme GmbH", "revenue")
        b.txn(main, date(year, month, 10), -50, "Slack", "software")
        b.txn(main, date(year, month, 15), -900 if month == 10 else -300, "Google Ads", "marketing")
        b.txn(main, date(year, month, 20), beta[month], "Beta Ltd", "revenue")
        b.txn(main, date(year, month, 28), -3500, "Payroll", "payroll")
        if month >= 8:
            b.txn(main, date(year, month, 15), -10, "Notion", "software", "Notion Plus")
            b.txn(main, date(year, month, 18), -16, "Notion", "software", "Notion Team")
        if month >= 9:
            b.txn(main, date(year, month, 25), -45, "Figma", "software")
    b.txn(main, date(2026, 10, 12), -50, "Slack", "software", "Slack again")
    b.txn(main, date(2026, 10, 30), -1000, "Own savings", "transfers")
    b.txn(savings, date(2026, 10, 30), 1000, "Own main account", "transfers")
    b.txn(us, date(2026, 10, 3), 500, "Gamma Inc", "revenue")
    b.txn(main, date(2026, 11, 1), -2000, "Landlord Co", "rent")
    b.txn(main, date(2026, 11, 5), 4000, "Acme GmbH", "revenue")
    b.txn(main, date(2026, 11, 10), -50, "Slack", "software")
    b.txn(main, date(2026, 11, 20), 777, "Acme GmbH", "revenue", "Late payment, after asOfDate")
    db.session.commit()


def build_recent_burn(user, workspace_id, today):
    """A ledger relative to `today`: the four months before it burn 500 a month; cash 3,000."""
    b = LedgerBuilder(user, workspace_id)
    main = b.account("Main", "EUR", "3000.00")
    first_of_month = today.replace(day=1)
    for back in range(1, 5):
        start = first_of_month
        for _ in range(back):
            start = (start - timedelta(days=1)).replace(day=1)
        b.txn(main, start + timedelta(days=2), 1500, "Acme GmbH", "revenue")
        b.txn(main, start + timedelta(days=3), -2000, "Landlord Co", "rent")
    db.session.commit()
