"""Growth opportunities over the hand-computed ledger and small pure ledgers; projects from them."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from narrative.banking.ledger import LedgerTxn
from narrative.extensions import db
from narrative.money.growth import compute_opportunities
from narrative.projects.models import Project
from tests.identity.factories import auth_headers, make_user
from tests.money.ledger_fixture import build_small_business

URL = "/api/growth/opps?asOfDate=2026-11-15"
FROM_OPP = "/api/projects/from_opp"


@pytest.fixture
def ledger_client(auth_client):
    build_small_business(auth_client.user, auth_client.workspace.id)
    return auth_client


def test_opportunities_of_the_fixture_ledger(ledger_client):
    body = ledger_client.get(URL).json
    assert body["asOfDate"] == "2026-11-15" and body["currency"] == "EUR"
    items = body["items"]
    assert [(i["kind"], i["priority"], i["estimatedMonthlyImpact"]) for i in items] == [
        # Beta Ltd: 1,500 + 1,500 + 2,000 = 5,000 (Aug-Oct) against 3,000 (May-Jul): +666.67 a month.
        ("growing_customer", "high", 666.67),
        # Acme GmbH paid 4,000 each month May-October: 5 % is 200.
        ("price_review", "low", 200.0),
    ]
    assert items[0]["title"] == "Beta Ltd is buying more" and "up 66.7 %" in items[0]["why"]
    assert all(i["projectId"] is None and i["status"] == "open" for i in items)
    again = ledger_client.get(URL).json["items"]
    assert [i["id"] for i in again] == [i["id"] for i in items]


def test_from_opp_creates_one_project_and_then_returns_it(ledger_client):
    opp = ledger_client.get(URL).json["items"][0]
    first = ledger_client.post(FROM_OPP, json={"insightId": opp["id"]})
    assert first.status_code == 200
    assert first.json["insightId"] == opp["id"] and first.json["isActive"] is True
    assert first.json["created"] is True and first.json["name"] == "Beta Ltd is buying more"
    second = ledger_client.post(FROM_OPP, json={"insightId": opp["id"]})
    assert second.status_code == 200 and second.json["created"] is False
    assert second.json["projectId"] == first.json["projectId"]
    project = db.session.get(Project, __import__("uuid").UUID(first.json["projectId"]))
    assert (project.source_type, project.source_id, project.status) == (
        "growth_opportunity",
        opp["id"],
        "active",
    )
    assert (
        project.workspace_id == ledger_client.workspace.id and project.created_by_id == ledger_client.user.id
    )
    assert db.session.scalar(sa.select(sa.func.count(Project.id))) == 1
    listed = {i["id"]: i for i in ledger_client.get(URL).json["items"]}
    assert listed[opp["id"]]["projectId"] == first.json["projectId"]


def test_from_opp_finds_an_opportunity_by_its_date_or_answers_404(ledger_client):
    # Not listed before: found as of the date given.
    opps = ledger_client.get(URL).json["items"]
    from narrative.platform.redis import get_redis

    get_redis().flushdb()  # forget the listing
    response = ledger_client.post(FROM_OPP, json={"insightId": opps[1]["id"], "asOfDate": "2026-11-15"})
    assert response.status_code == 200 and response.json["created"] is True
    unknown = ledger_client.post(FROM_OPP, json={"insightId": "opp_0123456789abcdef"})
    assert unknown.status_code == 404 and unknown.json["detail"]
    malformed = ledger_client.post(FROM_OPP, json={"insightId": "act_0123456789abcdef"})
    assert malformed.status_code == 422


def test_another_workspace_cannot_reach_the_opportunity_or_the_project(app, client, ledger_client):
    opp = ledger_client.get(URL).json["items"][0]
    mine = ledger_client.post(FROM_OPP, json={"insightId": opp["id"]}).json
    stranger = make_user()
    headers = auth_headers(stranger)
    assert client.get(URL, headers=headers).json["items"] == []
    response = client.post(FROM_OPP, json={"insightId": opp["id"]}, headers=headers)
    assert response.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Project.id))) == 1
    assert mine["projectId"]


def _income(day, amount, customer):
    return LedgerTxn(day, Decimal(amount), "EUR", "Invoice", customer, "revenue")


def test_seasonal_peak_needs_a_year_and_looks_three_months_ahead():
    # 1,000 a month from 2024-11 to 2026-10 (the 10th), except December 2025: 3,000.
    txns = []
    for index in range(24):
        year, month = 2024 + (index + 10) // 12, (index + 10) % 12 + 1
        amount = 3000 if (year, month) == (2025, 12) else 1000
        txns.append(_income(date(year, month, 10), amount, "Shop sales"))
    # As of 2025-11-10 the history (November 2024 - October 2025) starts before the first booking.
    _currency, found = compute_opportunities(txns, [], date(2025, 11, 10))
    assert [f for f in found if f.kind == "seasonal_peak"] == []
    currency, found = compute_opportunities(txns, [], date(2026, 11, 10))
    peaks = [f for f in found if f.kind == "seasonal_peak"]
    # Average November 2025 - October 2026: (11 x 1,000 + 3,000) / 12 = 1,166.67. December 2025's
    # 3,000 >= 1.3 x 1,166.67: a peak ahead in December 2026, 1,833.33 above the average.
    assert [(p.title, p.impact, p.subject) for p in peaks] == [
        ("Seasonal peak ahead in December", Decimal("1833.33"), "2026-12")
    ]
    assert currency == "EUR"


def test_volume_up_at_flat_prices_suggests_a_price_rise():
    txns = []
    for month, count in ((5, 2), (6, 2), (7, 2), (8, 3), (9, 3), (10, 3)):
        for n in range(count):
            txns.append(_income(date(2026, month, 3 + n), 100, f"Customer {month}-{n}"))
    _currency, found = compute_opportunities(txns, [], date(2026, 11, 2))
    volume = next(f for f in found if f.kind == "volume_growth")
    # 9 payments (Aug-Oct) against 6, all of 100: 900 / 3 = 300 a month; 5 % = 15.
    assert (volume.impact, volume.priority) == (Decimal("15.00"), "medium")


def test_a_customer_paying_more_every_month_is_growing_even_after_a_seasonal_peak():
    amounts = {5: 1000, 6: 2400, 7: 2400, 8: 1000, 9: 1100, 10: 1250}
    txns = [_income(date(2026, month, 12), amount, "Stark") for month, amount in amounts.items()]
    _currency, found = compute_opportunities(txns, [], date(2026, 11, 1))
    # Aug-Oct 3,350 is less than May-Jul 5,800, but 1,000 < 1,100 < 1,250: +25 %, 125 a month.
    growing = next(f for f in found if f.kind == "growing_customer")
    assert (growing.impact, growing.priority) == (Decimal("125.00"), "medium")
    assert "up 25.0 %" in growing.why
