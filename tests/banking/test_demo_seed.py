"""The demo ledger: a deterministic, idempotent year with the patterns metrics and actions look for."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from narrative.banking import ledger
from narrative.banking.models import BankTransaction
from narrative.banking.seed import demo_transactions, seed_demo
from narrative.extensions import db
from narrative.integrations.models import Integration
from tests.identity.factories import make_user, workspace_of

TODAY = date(2026, 11, 23)


def _demo():
    user = make_user()
    return SimpleNamespace(user=user, workspace=workspace_of(user), created=False)


def test_the_year_is_deterministic_and_ends_today():
    rows = demo_transactions(TODAY)
    assert rows == demo_transactions(TODAY)
    assert max(t.booked_on for t in rows) <= TODAY
    assert min(t.booked_on for t in rows) > TODAY - timedelta(days=366)
    assert len(rows) > 250


def test_seeding_twice_adds_nothing_and_the_story_is_there(app):
    demo = _demo()
    seed_demo(demo, today=TODAY)
    db.session.commit()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(BankTransaction))
    seed_demo(demo, today=TODAY)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BankTransaction)) == count
    assert db.session.scalar(sa.select(Integration.provider)) == "demo"

    txns = ledger.transactions_until(demo.workspace.id, demo.user.id, TODAY)
    income = defaultdict(Decimal)
    for txn in txns:
        if txn.category == "revenue":
            income[txn.counterparty] += txn.amount
    share = income["Acme Corp"] / sum(income.values())
    assert Decimal("0.40") < share < Decimal("0.50")
    categories = {txn.category for txn in txns}
    assert {
        "revenue",
        "payroll",
        "rent",
        "software",
        "marketing",
        "travel",
        "taxes",
        "utilities",
    } <= categories
    notion_last_month = [
        t
        for t in txns
        if t.counterparty == "Notion Labs" and t.booked_on.month == 10 and t.booked_on.year == 2026
    ]
    assert len(notion_last_month) == 2
    [balance] = ledger.balances_as_of(demo.workspace.id, demo.user.id, TODAY)
    assert balance.balance > Decimal("20000")


def test_flask_narrative_seed_fills_the_demo_ledger(app, cli):
    from narrative.identity.models import User
    from tests.identity.factories import auth_headers

    assert cli.invoke(args=["narrative", "seed"]).exit_code == 0
    count = db.session.scalar(sa.select(sa.func.count()).select_from(BankTransaction))
    assert count > 250
    assert cli.invoke(args=["narrative", "seed"]).exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BankTransaction)) == count
    demo = db.session.scalar(sa.select(User).where(User.email == app.config["DEMO_EMAIL"]))
    listed = app.test_client().get("/api/integrations", headers=auth_headers(demo)).get_json()
    assert [(i["provider"], i["status"]) for i in listed["integrations"]] == [("demo", "connected")]
