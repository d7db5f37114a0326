"""Demo bank data: a year of a small agency's business account, ending today.

Deterministic (fixed random seed; dates relative to the day the seed runs) and idempotent: once
the demo connection holds transactions nothing is added. The story it tells, so that metrics,
money actions and growth opportunities find something:

- five customers pay invoices monthly; Acme Corp brings about 45% of the income, Stark Industries
  grows every month, and June-July is the busy season (about +50%);
- payroll on the 25th (a hire five months ago raises it), office rent on the 1st, VAT quarterly;
- SaaS subscriptions, one of them (Notion) charged twice a month for the last three months;
- a spending spike last month (a marketing campaign and a conference trip);
- a healthy cash balance on the checking account.
"""

import random
from datetime import date, timedelta
from decimal import Decimal

from narrative.banking import service
from narrative.banking.models import DEMO, BankTransaction
from narrative.banking.service import IncomingTxn
from narrative.extensions import db
from narrative.platform.models import utcnow
from narrative.platform.tenancy import workspace_scope

SEED = 20240611
CURRENCY = "EUR"
OPENING_BALANCE = Decimal("38000.00")

CUSTOMERS = (
    # name, monthly invoice, day of month
    ("Acme Corp", Decimal("13500"), 8),
    ("Globex GmbH", Decimal("5200"), 12),
    ("Initech Ltd", Decimal("4300"), 15),
    ("Umbrella Co", Decimal("3100"), 20),
)
GROWING_CUSTOMER = ("Stark Industries", Decimal("1200"), Decimal("260"), 22)  # start, monthly growth, day

SUBSCRIPTIONS = (
    # counterparty, description, amount, day
    ("GitHub", "GitHub Team subscription", Decimal("84.00"), 3),
    ("Slack", "Slack Pro subscription", Decimal("162.50"), 4),
    ("Notion Labs", "Notion Team plan", Decimal("96.00"), 5),
    ("Google Workspace", "Google Workspace Business", Decimal("72.00"), 6),
    ("Figma", "Figma Professional", Decimal("45.00"), 9),
    ("HubSpot", "HubSpot Starter subscription", Decimal("450.00"), 11),
)

SMALL_EXPENSES = (
    # description, counterparty, typical amount: everyday card spending
    ("Office supplies", "Staples", Decimal("64")),
    ("Team lunch", "Trattoria Roma", Decimal("120")),
    ("Coffee beans", "Bean Brothers", Decimal("32")),
    ("Courier", "DHL Express", Decimal("45")),
    ("Books", "Amazon Marketplace", Decimal("55")),
)


def _months(start, end):
    month = date(start.year, start.month, 1)
    while month <= end:
        yield month
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _day(month, day):
    last = (date(month.year + (month.month == 12), month.month % 12 + 1, 1) - timedelta(days=1)).day
    return month.replace(day=min(day, last))


def _vary(rng, amount, spread=0.06):
    return (amount * Decimal(str(1 + rng.uniform(-spread, spread)))).quantize(Decimal("0.01"))


def demo_transactions(end):
    """The year of transactions ending on `end`, oldest first (pure: same `end`, same list)."""
    rng = random.Random(SEED)
    start = end - timedelta(days=365)
    months = list(_months(start, end))
    last_month = months[-2] if len(months) > 1 else months[-1]
    rows = []

    def add(month, day, amount, description, counterparty):
        booked_on = _day(month, day)
        if start < booked_on <= end:
            rows.append(IncomingTxn(booked_on, Decimal(amount), CURRENCY, description, counterparty))

    for number, month in enumerate(months):
        season = Decimal("1.5") if month.month in (6, 7) else Decimal("1")
        for name, invoice, day in CUSTOMERS:
            add(month, day, _vary(rng, invoice * season), f"Invoice {month:%Y-%m} payment", name)
        name, base, growth, day = GROWING_CUSTOMER
        add(month, day, _vary(rng, (base + growth * number) * season, 0.03), f"Invoice {month:%Y-%m}", name)

        payroll = Decimal("14200") if number < len(months) - 5 else Decimal("18900")
        add(month, 25, -_vary(rng, payroll, 0.01), "Monthly payroll", "Gusto Payroll")
        add(month, 1, Decimal("-3200.00"), "Office rent", "Brightspace Properties")
        for counterparty, description, amount, day in SUBSCRIPTIONS:
            add(month, day, -amount, description, counterparty)
        if number >= len(months) - 3:
            # A second Notion workspace someone opened: the same plan, charged again mid-month.
            add(month, 19, Decimal("-96.00"), "Notion Team plan", "Notion Labs")
        add(month, 2, -_vary(rng, Decimal("520"), 0.2), "AWS cloud services", "Amazon Web Services")
        add(month, 14, -_vary(rng, Decimal("950"), 0.15), "Google Ads campaign", "Google Ads")
        add(month, 10, -_vary(rng, Decimal("185"), 0.2), "Electricity", "City Energy")
        add(month, 10, Decimal("-59.90"), "Broadband internet", "FastNet Broadband")
        add(month, 28, Decimal("-25.00"), "Monthly account fee", "Demo Bank")
        for _ in range(rng.randint(1, 3)):
            add(month, rng.randint(1, 28), -_vary(rng, Decimal("38"), 0.4), "Uber trip", "Uber")
        for _ in range(rng.randint(2, 5)):
            description, counterparty, typical = rng.choice(SMALL_EXPENSES)
            add(month, rng.randint(1, 28), -_vary(rng, typical, 0.5), description, counterparty)
        if month.month in (1, 4, 7, 10):
            add(month, 18, -_vary(rng, Decimal("4600"), 0.1), "VAT payment Q", "Tax Office")
        if month == last_month:
            add(month, 16, Decimal("-6400.00"), "Google Ads launch campaign", "Google Ads")
            add(month, 21, Decimal("-1460.00"), "Flights to SaaStr conference", "Lufthansa")
            add(month, 22, Decimal("-980.00"), "Conference hotel", "Hotel Adlon")
    rows.sort(key=lambda txn: (txn.booked_on, txn.counterparty or ""))
    return rows


def seed_demo(demo, *, today=None):
    if demo.user is None or demo.workspace is None:
        return
    # The seed command runs across workspaces; the demo ledger is the demo workspace's alone.
    with workspace_scope(demo.workspace.id):
        _seed_ledger(demo, today=today)


def _seed_ledger(demo, *, today=None):
    from narrative.integrations.service import get_or_create_integration

    integration = get_or_create_integration(
        workspace_id=demo.workspace.id,
        user_id=demo.user.id,
        provider=DEMO,
        status="connected",
        name="Demo bank",
    )
    connection = service.get_or_create_connection(
        workspace_id=demo.workspace.id,
        user_id=demo.user.id,
        provider=DEMO,
        external_id=f"demo:{demo.user.id}",
        institution_name="Demo Bank",
        integration_id=integration.id,
    )
    account = service.get_or_create_account(
        connection=connection, external_id="business-checking", name="Business checking", currency=CURRENCY
    )
    if db.session.scalar(
        db.select(BankTransaction.id).where(BankTransaction.account_id == account.id).limit(1)
    ):
        return
    end = today or date.today()
    rows = demo_transactions(end)
    service.store_transactions(account, rows)
    balance = OPENING_BALANCE + sum(txn.amount for txn in rows)
    service.refresh_balance(account, balance=balance, balance_at=end)
    connection.last_synced_at = integration.last_synced_at = utcnow()
