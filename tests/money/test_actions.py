"""Money actions over the hand-computed ledger (tests/money/ledger_fixture.py), their stable ids and
the member's decisions on them."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from narrative.banking.ledger import AccountBalance, LedgerTxn
from narrative.extensions import db
from narrative.money.actions import compute_actions
from narrative.money.findings import finding_id
from narrative.money.metrics import compute_metrics
from narrative.money.models import MoneyActionStatus
from tests.identity.factories import auth_headers, make_user
from tests.money.ledger_fixture import build_small_business

URL = "/api/money/actions?asOfDate=2026-11-15"
SET = "/api/money/action/status/set"


@pytest.fixture
def ledger_client(auth_client):
    build_small_business(auth_client.user, auth_client.workspace.id)
    return auth_client


def _summary(items):
    return [(i["kind"], i["priority"], i["estimatedMonthlyImpact"]) for i in items]


def test_actions_are_the_hand_computed_findings_in_priority_order(ledger_client):
    body = ledger_client.get(URL).json
    assert body["asOfDate"] == "2026-11-15" and body["currency"] == "EUR" and body["total"] == 6
    # high (largest impact first), then medium, then low.
    assert _summary(body["items"]) == [
        ("income_concentration", "high", 4000.0),  # Acme 12,000 of 17,000 (70.6 %) Aug-Oct
        ("spending_spike", "high", 600.0),  # marketing 900 in October vs 300 a month July-September
        ("duplicate_charge", "high", 50.0),  # Slack 50 twice in October
        ("low_runway", "medium", 456.0),  # 5.7 months at 456 a month
        ("duplicate_subscription", "medium", 10.0),  # Notion 10 and 16
        ("new_recurring_charge", "low", 45.0),  # Figma 45 since 2026-09-25
    ]
    items = {item["kind"]: item for item in body["items"]}
    assert items["spending_spike"]["title"] == "Marketing spending jumped in October 2026"
    assert "EUR 900.00 on marketing in October 2026, 3.0x the EUR 300.00" in items["spending_spike"]["why"]
    assert items["income_concentration"]["title"] == "70.6 % of your income comes from Acme GmbH"
    assert items["low_runway"]["title"] == "Runway is 5.7 months"
    assert items["duplicate_charge"]["title"] == "Slack charged you twice in October 2026"
    assert "EUR 10.00 and EUR 16.00" in items["duplicate_subscription"]["why"]
    assert "since 2026-09-25" in items["new_recurring_charge"]["why"]
    assert all(item["status"] == "open" and item["currency"] == "EUR" for item in body["items"])
    keys = {key for item in body["items"] for key in item} | set(body)
    assert {"estimatedMonthlyImpact", "asOfDate", "statusUpdatedAt"} <= keys
    assert not any("_" in key for key in keys)


def test_ids_are_stable_across_calls_and_dates(ledger_client):
    first = [i["id"] for i in ledger_client.get(URL).json["items"]]
    again = [i["id"] for i in ledger_client.get(URL).json["items"]]
    later = {i["id"] for i in ledger_client.get("/api/money/actions?asOfDate=2026-11-16").json["items"]}
    assert first == again and set(first) == later
    assert len(set(first)) == len(first)
    assert finding_id("act", "low_runway", "runway:medium") in first


def test_a_status_change_is_honoured_by_the_next_listing(ledger_client):
    user_id = str(ledger_client.user.id)
    items = ledger_client.get(URL).json["items"]
    dismissed, done, snoozed = items[0]["id"], items[1]["id"], items[2]["id"]

    response = ledger_client.post(
        SET,
        json={"userId": user_id, "insightId": dismissed, "status": "dismissed", "reason": "Planned campaign"},
    )
    assert response.status_code == 200
    assert response.json["ok"] is True and response.json["insightId"] == dismissed
    assert response.json["status"] == "dismissed" and response.json["reason"] == "Planned campaign"
    ledger_client.post(SET, json={"userId": user_id, "insightId": done, "status": "done"})
    ledger_client.post(SET, json={"userId": user_id, "insightId": snoozed, "status": "snoozed"})

    open_ids = [i["id"] for i in ledger_client.get(URL).json["items"]]
    assert open_ids == [i["id"] for i in items[3:]]
    everything = {i["id"]: i for i in ledger_client.get(URL + "&status=all").json["items"]}
    assert everything[dismissed]["status"] == "dismissed"
    assert everything[dismissed]["reason"] == "Planned campaign"
    assert everything[done]["status"] == "done" and everything[snoozed]["snoozedUntil"]
    assert [i["id"] for i in ledger_client.get(URL + "&status=dismissed").json["items"]] == [dismissed]

    # Reopened: back in the open list, one row per member and action.
    ledger_client.post(SET, json={"userId": user_id, "insightId": dismissed, "status": "open"})
    assert dismissed in [i["id"] for i in ledger_client.get(URL).json["items"]]
    rows = db.session.scalars(sa.select(MoneyActionStatus).where(MoneyActionStatus.action_id == dismissed))
    assert len(rows.all()) == 1


def test_a_snooze_ends_after_seven_days(ledger_client):
    user_id = str(ledger_client.user.id)
    action_id = ledger_client.get(URL).json["items"][0]["id"]
    ledger_client.post(SET, json={"userId": user_id, "insightId": action_id, "status": "snoozed"})
    assert action_id not in [i["id"] for i in ledger_client.get(URL).json["items"]]
    row = db.session.scalar(sa.select(MoneyActionStatus).where(MoneyActionStatus.action_id == action_id))
    row.updated_at = row.updated_at - timedelta(days=8)
    db.session.commit()
    listed = {i["id"]: i for i in ledger_client.get(URL).json["items"]}
    assert listed[action_id]["status"] == "open"


def test_status_set_validation_and_the_caller_check(ledger_client):
    user_id = str(ledger_client.user.id)
    action_id = ledger_client.get(URL).json["items"][0]["id"]
    someone_else = str(make_user().id)
    response = ledger_client.post(
        SET, json={"userId": someone_else, "insightId": action_id, "status": "done"}
    )
    assert response.status_code == 403
    bad_status = ledger_client.post(SET, json={"userId": user_id, "insightId": action_id, "status": "later"})
    assert bad_status.status_code == 422
    bad_id = ledger_client.post(SET, json={"userId": user_id, "insightId": "nope", "status": "done"})
    assert bad_id.status_code == 422
    missing = ledger_client.post(SET, json={"insightId": action_id, "status": "done"})
    assert missing.status_code == 422


def test_decisions_belong_to_the_member_who_made_them(app, client, ledger_client):
    user_id = str(ledger_client.user.id)
    action_id = ledger_client.get(URL).json["items"][0]["id"]
    ledger_client.post(SET, json={"userId": user_id, "insightId": action_id, "status": "dismissed"})
    stranger = make_user()
    build_small_business(stranger, stranger.memberships[0].workspace_id)
    theirs = client.get(URL, headers=auth_headers(stranger)).json["items"]
    assert action_id in [i["id"] for i in theirs]  # same finding in their books, still open for them
    assert all(i["status"] == "open" for i in theirs)


def _txn(day, amount, counterparty, category="other"):
    return LedgerTxn(day, Decimal(amount), "EUR", counterparty, counterparty, category)


def test_idle_cash_is_cash_beyond_six_months_of_expenses():
    txns = [_txn(date(2026, month, 3), "-1000", "Landlord", "rent") for month in (1, 2, 3)] + [
        _txn(date(2026, month, 4), "1500", "Client", "revenue") for month in (1, 2, 3)
    ]
    balances = [AccountBalance(None, "Main", "EUR", Decimal("10000"))]
    as_of = date(2026, 3, 31)
    found = compute_actions(txns, balances, as_of, compute_metrics(txns, balances, as_of))
    idle = next(f for f in found if f.kind == "idle_cash")
    # 10,000 - 6 x 1,000 = 4,000 idle; 4,000 x 2 % / 12 = 6.67 a month.
    assert (idle.impact, idle.priority, idle.facts["idle_cash"]) == (
        Decimal("6.67"),
        "low",
        Decimal("4000.00"),
    )
    assert {f.kind for f in found} == {"idle_cash", "income_concentration"}


def test_a_critical_runway_is_high_priority():
    txns = [_txn(date(2026, month, 3), "-1000", "Landlord", "rent") for month in (1, 2, 3)]
    balances = [AccountBalance(None, "Main", "EUR", Decimal("2500"))]
    as_of = date(2026, 4, 2)
    found = compute_actions(txns, balances, as_of, compute_metrics(txns, balances, as_of))
    runway = next(f for f in found if f.kind == "low_runway")
    assert (runway.priority, runway.title, runway.impact) == (
        "high",
        "Runway is 2.5 months",
        Decimal("1000.00"),
    )


def test_a_quarterly_bill_is_not_a_spike():
    txns = [
        _txn(date(2026, 7, 18), "-4600", "Tax Office", "taxes"),
        _txn(date(2026, 10, 18), "-4800", "Tax Office", "taxes"),
        _txn(date(2026, 7, 2), "-100", "Airline", "travel"),
        _txn(date(2026, 10, 2), "-1000", "Airline", "travel"),
    ]
    as_of = date(2026, 11, 2)
    found = compute_actions(txns, [], as_of, compute_metrics(txns, [], as_of))
    # Taxes: 4,800 >= 1.5 x 1,533.33 but not above 1.2 x July's 4,600; travel 1,000 > 1.2 x 100.
    spikes = [f.facts["category"] for f in found if f.kind == "spending_spike"]
    assert spikes == ["travel"]


def test_losing_the_first_decision_race_updates_the_winner_and_keeps_the_rest(app, monkeypatch):
    from narrative.money import service
    from narrative.platform.tenancy import workspace_scope
    from narrative.projects.models import Project
    from tests.identity.factories import workspace_of

    user = make_user()
    workspace = workspace_of(user)
    action_id = finding_id("act", "low_runway", "runway:medium")
    db.session.add(
        MoneyActionStatus(workspace_id=workspace.id, user_id=user.id, action_id=action_id, status="done")
    )
    db.session.commit()
    # The race: our lookup ran before the concurrent first decision was committed.
    real_decision = service._decision
    calls = []

    def decision_before_the_winner_committed(**criteria):
        calls.append(criteria)
        return None if len(calls) == 1 else real_decision(**criteria)

    monkeypatch.setattr(service, "_decision", decision_before_the_winner_committed)
    with workspace_scope(workspace.id):
        db.session.add(Project(workspace_id=workspace.id, name="Earlier in the same request"))
        row = service.set_status(
            workspace_id=workspace.id, user_id=user.id, insight_id=action_id, status="snoozed", reason="Later"
        )
    db.session.commit()
    assert len(calls) == 2 and (row.status, row.reason) == ("snoozed", "Later")
    rows = db.session.scalars(sa.select(MoneyActionStatus)).all()
    assert [(r.id, r.status) for r in rows] == [(row.id, "snoozed")]
    assert db.session.scalar(sa.select(Project.name)) == "Earlier in the same request"
