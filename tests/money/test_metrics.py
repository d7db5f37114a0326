"""Metric cards over the hand-computed ledger of tests/money/ledger_fixture.py (as of 2026-11-15)."""

from datetime import date
from decimal import Decimal

import pytest

from narrative.banking.ledger import AccountBalance, LedgerTxn
from narrative.money.metrics import compute_metrics
from narrative.money.periods import Month, last_complete_month
from tests.identity.factories import auth_headers, make_user, workspace_of
from tests.money.ledger_fixture import build_small_business

URL = "/api/money/metrics?asOfDate=2026-11-15"


def _cards(body):
    return {card["id"]: card for card in body["cards"]}


@pytest.fixture
def ledger_client(auth_client):
    build_small_business(auth_client.user, auth_client.workspace.id)
    return auth_client


def test_last_complete_month_is_the_month_before_unless_as_of_ends_a_month():
    assert last_complete_month(date(2026, 11, 15)) == Month(2026, 10)
    assert last_complete_month(date(2026, 11, 30)) == Month(2026, 11)
    assert last_complete_month(date(2026, 1, 1)) == Month(2025, 12)
    assert Month(2026, 2).end == date(2026, 2, 28) and Month(2024, 2).end == date(2024, 2, 29)


def test_metric_cards_match_the_hand_computed_figures(ledger_client):
    response = ledger_client.get(URL)
    assert response.status_code == 200
    body = response.json
    assert body["asOfDate"] == "2026-11-15" and body["currency"] == "EUR"
    cards = _cards(body)
    assert list(cards) == [
        "cash_balance",
        "monthly_income",
        "monthly_expenses",
        "net_cash_flow",
        "runway",
        "mom_change",
        "top_expense_categories",
    ]
    # Main 2,377 less the 777 booked after asOfDate, plus Savings 1,000; the USD account is left out.
    # On 2026-09-30: 2,600 - (October -571, transfers net 0) - (November 4,000 - 2,050) = 1,221.
    cash = cards["cash_balance"]
    assert (cash["value"], cash["previousValue"], cash["trend"], cash["unit"], cash["currency"]) == (
        2600.0,
        1221.0,
        "up",
        "currency",
        "EUR",
    )
    assert cards["monthly_income"]["value"] == 6000.0 and cards["monthly_income"]["previousValue"] == 5500.0
    assert cards["monthly_income"]["period"] == "2026-10" and cards["monthly_income"]["trend"] == "up"
    assert (
        cards["monthly_expenses"]["value"] == 6571.0 and cards["monthly_expenses"]["previousValue"] == 5921.0
    )
    net = cards["net_cash_flow"]
    assert (net["title"], net["value"], net["previousValue"], net["trend"]) == (
        "Net burn",
        -571.0,
        -421.0,
        "down",
    )
    # Burn August-October: 376 + 421 + 571 = 1,368 / 3 = 456; 2,600 / 456 = 5.70 -> 5.7.
    # A month earlier: burn July-September 850 + 376 + 421 = 1,647 / 3 = 549; 1,221 / 549 = 2.2.
    runway = cards["runway"]
    assert (runway["value"], runway["previousValue"], runway["unit"], runway["trend"]) == (
        5.7,
        2.2,
        "months",
        "up",
    )
    assert runway["currency"] is None
    assert runway["explanation"] == (
        "EUR 2,600.00 of cash divided by an average net burn of EUR 456.00 a month "
        "(August 2026 to October 2026) lasts 5.7 months."
    )
    # (6,000 - 5,500) / 5,500 = 9.09 % -> 9.1; expenses (6,571 - 5,921) / 5,921 = 10.98 % -> 11.0.
    mom = cards["mom_change"]
    assert (mom["value"], mom["unit"], mom["trend"]) == (9.1, "percent", "up")
    assert "+9.1 %" in mom["explanation"] and "expenses +11.0 %" in mom["explanation"]
    top = cards["top_expense_categories"]
    assert top["value"] == 3500.0 and top["trend"] == "flat"
    assert top["breakdown"] == [
        {"category": "payroll", "amount": 3500.0, "share": 53.3, "previousAmount": 3500.0},
        {"category": "rent", "amount": 2000.0, "share": 30.4, "previousAmount": 2000.0},
        {"category": "marketing", "amount": 900.0, "share": 13.7, "previousAmount": 300.0},
    ]
    assert all(card["explanation"] for card in cards.values())


def test_the_wire_is_camel_case(ledger_client):
    body = ledger_client.get(URL).json
    keys = set(body) | {key for card in body["cards"] for key in card}
    assert {"asOfDate", "previousValue"} <= keys
    assert not any("_" in key for key in keys)


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("", "asOfDate is required"),
        ("?asOfDate=", "asOfDate is required"),
        ("?asOfDate=15-11-2026", "YYYY-MM-DD"),
        ("?asOfDate=2026-02-30", "YYYY-MM-DD"),
        ("?asOfDate=yesterday", "YYYY-MM-DD"),
    ],
)
def test_a_missing_or_bad_date_is_a_400_with_a_clear_message(auth_client, query, fragment):
    for path in ("/api/money/metrics", "/api/money/actions", "/api/growth/opps"):
        response = auth_client.get(path + query)
        assert response.status_code == 400, path
        assert fragment in response.json["detail"] and response.json["request_id"]


def test_no_bank_data_gives_empty_cards_not_an_error(auth_client):
    cards = _cards(auth_client.get(URL).json)
    assert cards["cash_balance"]["value"] == 0.0
    assert cards["runway"]["value"] is None and "No transactions" in cards["runway"]["explanation"]


def test_another_workspace_and_another_member_see_none_of_it(app, client, ledger_client):
    stranger = make_user()
    colleague = make_user(role="member", workspace=ledger_client.workspace)
    for user in (stranger, colleague):
        cards = _cards(client.get(URL, headers=auth_headers(user)).json)
        assert cards["cash_balance"]["value"] == 0.0 and cards["monthly_income"]["value"] == 0.0
    assert workspace_of(stranger).id != ledger_client.workspace.id


def test_pure_metrics_leave_other_currencies_and_transfers_out():
    def txn(day, amount, currency="EUR", category="revenue"):
        return LedgerTxn(date(2026, 3, day), Decimal(amount), currency, "x", "Client", category)

    txns = [
        txn(1, "100"),
        txn(2, "-40", category="rent"),
        txn(3, "-500", category="transfers"),
        txn(4, "999", currency="USD"),
        txn(5, "7", currency="USD"),
    ]
    balances = [AccountBalance(account_id=None, name="A", currency="EUR", balance=Decimal("60"))]
    report = compute_metrics(txns, balances, date(2026, 3, 31))
    assert report.currency == "EUR"
    assert (report.figures.income, report.figures.expenses) == (Decimal("100"), Decimal("40"))
    assert report.card("runway").value is None  # a profit: no burn
