"""The ledger: de-duplicated writes, the read contract other domains use, categories and overrides."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from narrative.banking import ledger, service
from narrative.banking.categories import categorise
from narrative.banking.models import BankTransaction, CategoryRule
from narrative.extensions import db
from tests.banking.factories import add_transactions, incoming, make_account
from tests.identity.factories import auth_headers, make_user, workspace_of

ROWS = [
    ("2026-01-05", "1200.00", "Invoice 12 payment", "Acme Corp"),
    ("2026-01-10", "-3200.00", "Office rent", "Brightspace Properties"),
    ("2026-01-12", "-4.50", "Coffee", "Corner Cafe"),
    ("2026-01-12", "-4.50", "Coffee", "Corner Cafe"),
    ("2026-02-03", "-84.00", "GitHub Team subscription", "GitHub"),
    ("2026-02-25", "-9000.00", "Monthly payroll", "Gusto Payroll"),
]


def _count(account):
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BankTransaction)
        .where(BankTransaction.account_id == account.id)
    )


def test_storing_twice_adds_nothing_but_identical_rows_of_one_source_stay_two(app):
    user = make_user()
    account = make_account(user)
    assert add_transactions(account, ROWS) == 6
    assert add_transactions(account, ROWS) == 0
    assert _count(account) == 6


def test_provider_ids_deduplicate_even_when_the_text_changes(app):
    user = make_user()
    account = make_account(user)
    first = incoming([("2026-01-05", "10.00", "Card payment", "Shop")])
    first[0].external_id = "tx-1"
    assert service.store_transactions(account, first) == 1
    again = incoming([("2026-01-06", "10.00", "Card payment (posted)", "Shop")])
    again[0].external_id = "tx-1"
    assert service.store_transactions(account, again) == 0


def test_transactions_until_and_balances_as_of(app):
    user = make_user()
    workspace = workspace_of(user)
    account = make_account(user)
    add_transactions(account, ROWS, balance=Decimal("20000.00"))

    txns = ledger.transactions_until(workspace.id, user.id, date(2026, 1, 31))
    assert [t.booked_on for t in txns] == [
        date(2026, 1, 5),
        date(2026, 1, 10),
        date(2026, 1, 12),
        date(2026, 1, 12),
    ]
    assert txns[0].amount == Decimal("1200.00") and isinstance(txns[0].amount, Decimal)
    assert txns[0].counterparty == "Acme Corp" and txns[0].category == "revenue" and txns[0].currency == "EUR"

    # 20000 now; after Jan 31 came -84 and -9000, so on Jan 31 the balance was 29084.
    [balance] = ledger.balances_as_of(workspace.id, user.id, date(2026, 1, 31))
    assert balance.balance == Decimal("29084.00")
    assert (balance.name, balance.currency) == ("Checking", "EUR")
    assert ledger.balances_as_of(workspace.id, user.id, date(2026, 3, 1))[0].balance == Decimal("20000.00")


def test_ledger_is_per_member_and_per_workspace(app):
    owner = make_user()
    colleague = make_user(role="member", workspace=workspace_of(owner))
    add_transactions(make_account(owner), ROWS)
    assert ledger.transactions_until(workspace_of(owner).id, colleague.id, date(2027, 1, 1)) == []
    assert ledger.balances_as_of(workspace_of(owner).id, colleague.id, date(2027, 1, 1)) == []
    stranger = make_user()
    assert ledger.transactions_until(workspace_of(stranger).id, owner.id, date(2027, 1, 1)) == []
    # None: the whole workspace.
    assert len(ledger.transactions_until(workspace_of(owner).id, None, date(2027, 1, 1))) == 6


def test_keyword_rules():
    def category(amount, description, counterparty=None):
        return categorise(amount=Decimal(amount), description=description, counterparty=counterparty)[0]

    assert category("5000", "Invoice 2026-01", "Acme Corp") == "revenue"
    assert category("-9000", "Monthly payroll", "Gusto") == "payroll"
    assert category("-3200", "Office rent", "Landlord Ltd") == "rent"
    assert category("-84", "GitHub Team", "GitHub") == "software"
    assert category("-900", "Google Ads campaign", "Google Ads") == "marketing"
    assert category("-35", "Uber trip", "Uber") == "travel"
    assert category("-4600", "VAT payment", "Tax Office") == "taxes"
    assert category("-25", "Monthly account fee", "Bank") == "bank_fees"
    assert category("-180", "Electricity", "City Energy") == "utilities"
    assert category("-1000", "Transfer to savings", None) == "transfers"
    # Whole words only: "current" is not rent, a taxi is not a tax.
    assert category("-20", "Current account interest", "Bank") == "other"
    assert category("-20", "Taxi", "Cab Co") == "travel"
    assert category("-12", "Something", "Someone") == "other"
    assert category("12", "Something", "Someone") == "revenue"


def test_override_recategorises_similar_rows_and_is_remembered_for_the_next_import(app):
    user = make_user()
    account = make_account(user)
    add_transactions(account, ROWS)
    client = app.test_client()
    coffee = db.session.scalar(
        sa.select(BankTransaction).where(BankTransaction.description == "Coffee").limit(1)
    )
    assert coffee.category == "other"

    response = client.patch(
        f"/api/money/transactions/{coffee.id}", json={"category": "travel"}, headers=auth_headers(user)
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (
        body["category"] == "travel" and body["categorySource"] == "user" and body["bookedOn"] == "2026-01-12"
    )
    rule = db.session.scalar(sa.select(CategoryRule))
    assert (rule.match_field, rule.pattern, rule.category) == ("counterparty", "corner cafe", "travel")
    db.session.expire_all()
    cafes = db.session.scalars(
        sa.select(BankTransaction).where(BankTransaction.counterparty == "Corner Cafe")
    ).all()
    assert {t.category for t in cafes} == {"travel"}

    add_transactions(account, [("2026-03-01", "-6.00", "Lunch", "Corner Cafe")])
    new = db.session.scalar(sa.select(BankTransaction).where(BankTransaction.description == "Lunch"))
    assert (new.category, new.category_source) == ("travel", "user")


def test_override_validates_the_category_and_hides_other_workspaces(app):
    user = make_user()
    account = make_account(user)
    add_transactions(account, ROWS[:1])
    txn = db.session.scalar(sa.select(BankTransaction))
    client = app.test_client()
    bad = client.patch(
        f"/api/money/transactions/{txn.id}", json={"category": "snacks"}, headers=auth_headers(user)
    )
    assert bad.status_code == 422
    stranger = make_user()
    other = client.patch(
        f"/api/money/transactions/{txn.id}", json={"category": "rent"}, headers=auth_headers(stranger)
    )
    assert other.status_code == 404
    colleague = make_user(role="member", workspace=workspace_of(user))
    assert (
        client.patch(
            f"/api/money/transactions/{txn.id}", json={"category": "rent"}, headers=auth_headers(colleague)
        ).status_code
        == 404
    )


def test_transactions_and_accounts_lists_are_camel_case_and_paginated(app):
    user = make_user()
    add_transactions(make_account(user), ROWS, balance=Decimal("100.00"))
    client = app.test_client()
    first = client.get("/api/money/transactions?limit=4", headers=auth_headers(user)).get_json()
    assert len(first["items"]) == 4 and first["has_more"] is True
    assert first["items"][0]["bookedOn"] == "2026-02-25" and first["items"][0]["amount"] == "-9000.00"
    assert {"accountId", "categorySource", "counterparty", "currency"} <= first["items"][0].keys()
    second = client.get(
        f"/api/money/transactions?limit=4&cursor={first['next_cursor']}", headers=auth_headers(user)
    ).get_json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    rent = client.get("/api/money/transactions?category=rent", headers=auth_headers(user)).get_json()
    assert [t["description"] for t in rent["items"]] == ["Office rent"]
    accounts = client.get("/api/money/accounts", headers=auth_headers(user)).get_json()["items"]
    assert accounts[0]["balance"] == "100.00" and accounts[0]["currency"] == "EUR"
    assert client.get("/api/money/transactions", headers=auth_headers(make_user())).get_json()["items"] == []


def test_the_account_filter_names_one_of_your_accounts_or_is_a_422(app):
    user = make_user()
    account = make_account(user)
    add_transactions(account, ROWS)
    colleague = make_user(role="member", workspace=workspace_of(user))
    theirs = make_account(colleague, workspace=workspace_of(user))
    foreign = make_account(make_user())
    client = app.test_client()

    def listed(account_id):
        return client.get(f"/api/money/transactions?accountId={account_id}", headers=auth_headers(user))

    mine = listed(account.id)
    assert mine.status_code == 200 and len(mine.get_json()["items"]) == 6
    for other in (theirs.id, foreign.id, "0190f3a2-7c1e-7b7a-9d2f-000000000000"):
        response = listed(other)
        assert response.status_code == 422, response.get_json()
        assert [d["field"] for d in response.get_json()["details"]] == ["accountId"]
    assert listed("not-a-uuid").status_code == 422
