"""The coach: bootstrap state, sessions (stored as platform conversations) and grounded SSE replies."""

import json
from datetime import UTC, datetime

import pytest

from narrative.conversations import jobs as reply_jobs
from narrative.conversations.models import Conversation
from narrative.extensions import db
from tests.identity.factories import auth_headers, make_user
from tests.money.ledger_fixture import build_recent_burn, build_small_business
from workers.worker import run_jobs_in_process

AS_OF = "2026-11-15"


def frames(response):
    return [
        json.loads(line[6:])
        for line in response.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]


def _create_session(client, user_id, **extra):
    body = {"chatType": "coach", "userId": str(user_id), **extra}
    response = client.post("/api/chat/session/create", json=body)
    assert response.status_code == 200, response.json
    return response.json


def _send(app, client, user_id, session_id, payload, payload_type="text"):
    """Post a turn and run the reply job; the SSE view closed the session (ORM objects detach)."""
    response = client.post(
        "/api/chat/send",
        json={
            "sessionId": session_id,
            "userId": str(user_id),
            "payloadType": payload_type,
            "payload": payload,
        },
    )
    assert response.status_code == 200 and response.mimetype == "text/event-stream", response.data
    run_jobs_in_process(app)
    return response, frames(response)


def _reply_text(events):
    return "".join(e["text"] for e in events if e["type"] == "delta")


@pytest.fixture
def ledger_client(auth_client):
    build_small_business(auth_client.user, auth_client.workspace.id)
    auth_client.user_id = auth_client.user.id
    return auth_client


def test_bootstrap_is_the_session_object(ledger_client):
    user, workspace = ledger_client.user, ledger_client.workspace
    session = _create_session(ledger_client, ledger_client.user_id, asOfDate=AS_OF)
    body = ledger_client.get(f"/api/coach/bootstrap?asOfDate={AS_OF}").json
    assert body["userId"] == str(user.id) and body["tenantId"] == str(workspace.id)
    assert body["user"] == {"userId": str(user.id), "email": user.email, "name": user.name}
    assert body["tenant"] == {"tenantId": str(workspace.id), "name": workspace.name}
    assert body["asOfDate"] == AS_OF
    cards = {c["id"]: c for c in body["metrics"]["cards"]}
    assert cards["runway"]["value"] == 5.7 and body["metrics"]["currency"] == "EUR"
    assert [a["kind"] for a in body["topActions"]] == [
        "income_concentration",
        "spending_spike",
        "duplicate_charge",
    ]
    assert body["openActionCount"] == 6 and body["opportunityCount"] == 2
    assert [s["sessionId"] for s in body["sessions"]] == [session["sessionId"]]
    assert body["sessions"][0]["chatType"] == "coach" and body["sessions"][0]["asOfDate"] == AS_OF
    assert body["suggestedPrompts"][0] == "What is my runway?" and len(body["suggestedPrompts"]) == 4
    assert "70.6 % of your income comes from Acme GmbH" in body["suggestedPrompts"][2]
    keys = set(body) | {k for s in body["sessions"] for k in s} | {k for a in body["topActions"] for k in a}
    assert not any("_" in key for key in keys)


def test_bootstrap_defaults_to_today_and_checks_the_date(auth_client):
    body = auth_client.get("/api/coach/bootstrap").json
    assert body["asOfDate"] == datetime.now(UTC).date().isoformat()
    assert body["topActions"] == [] and body["sessions"] == []
    assert auth_client.get("/api/coach/bootstrap?asOfDate=2026-13-01").status_code == 400


def test_session_create_is_for_yourself_only(app, auth_client):
    created = _create_session(auth_client, auth_client.user.id)
    assert set(created) >= {"sessionId", "chatType", "createdAt"} and created["chatType"] == "coach"
    other = make_user()
    response = auth_client.post(
        "/api/chat/session/create", json={"chatType": "coach", "userId": str(other.id)}
    )
    assert response.status_code == 403 and response.json["detail"] and response.json["request_id"]
    missing = auth_client.post("/api/chat/session/create", json={"chatType": "coach"})
    assert missing.status_code == 422
    conversation = db.session.get(Conversation, __import__("uuid").UUID(created["sessionId"]))
    assert (conversation.family, conversation.prompt_context) == ("sdk", "money_coach")


def test_send_streams_frames_quotes_the_runway_and_stores_the_turn(app, ledger_client):
    session_id = _create_session(ledger_client, ledger_client.user_id, asOfDate=AS_OF)["sessionId"]
    runway = next(
        c
        for c in ledger_client.get(f"/api/money/metrics?asOfDate={AS_OF}").json["cards"]
        if c["id"] == "runway"
    )
    response, events = _send(app, ledger_client, ledger_client.user_id, session_id, "What is my runway?")
    message_id = response.headers["X-Message-Id"]

    assert events[0]["type"] == "status" and events[0]["status"] == "running"
    assert {e["type"] for e in events[1:-1]} == {"delta"}
    done = events[-1]
    assert done["type"] == "done" and done["status"] == "complete" and done["partial"] is False
    assert done["sessionId"] == session_id and done["messageId"] == message_id
    assert done["usage"]["tokensOut"] > 0
    text = _reply_text(events)
    assert f"{runway['value']} months" in text and runway["value"] == 5.7
    assert text.startswith("Runway as of 2026-11-15 is 5.7 months.")

    # The turn is in the platform's history, readable through the other families.
    history = ledger_client.get(f"/api/v1/chat/conversations/{session_id}/messages").json["items"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["content"] == "What is my runway?" and history[1]["content"] == text
    assistant_list = ledger_client.get("/api/conversations").json["items"]
    assert session_id in [c["id"] for c in assistant_list]


def test_the_default_date_is_today_and_matches_the_metrics_endpoint(app, auth_client):
    today = datetime.now(UTC).date()
    build_recent_burn(auth_client.user, auth_client.workspace.id, today)
    user_id = auth_client.user.id
    session_id = _create_session(auth_client, user_id)["sessionId"]
    cards = auth_client.get(f"/api/money/metrics?asOfDate={today.isoformat()}").json["cards"]
    runway = next(c for c in cards if c["id"] == "runway")
    assert runway["value"] is not None
    _response, events = _send(app, auth_client, user_id, session_id, "How long will my cash last?")
    assert f"is {runway['value']} months" in _reply_text(events)


def test_an_action_payload_discusses_that_action(app, ledger_client):
    session_id = _create_session(ledger_client, ledger_client.user_id, asOfDate=AS_OF)["sessionId"]
    actions = ledger_client.get(f"/api/money/actions?asOfDate={AS_OF}").json["items"]
    duplicate = next(a for a in actions if a["kind"] == "duplicate_charge")
    _response, events = _send(
        app,
        ledger_client,
        ledger_client.user_id,
        session_id,
        {"insightId": duplicate["id"]},
        payload_type="action",
    )
    text = _reply_text(events)
    assert duplicate["title"] in text and "EUR 50.00" in text
    history = ledger_client.get(f"/api/v1/chat/conversations/{session_id}/messages").json["items"]
    assert history[0]["content"] == f"What should I do about “{duplicate['title']}”?"
    missing = ledger_client.post(
        "/api/chat/send",
        json={
            "sessionId": session_id,
            "userId": str(ledger_client.user_id),
            "payloadType": "action",
            "payload": {"insightId": "act_0000000000000000"},
        },
    )
    assert missing.status_code == 404


def test_a_general_question_gets_the_summary_and_top_actions(app, ledger_client):
    session_id = _create_session(ledger_client, ledger_client.user_id, asOfDate=AS_OF)["sessionId"]
    _response, events = _send(app, ledger_client, ledger_client.user_id, session_id, "Hello coach")
    text = _reply_text(events)
    assert "Cash balance as of 2026-11-15 is EUR 2,600.00." in text
    assert "Your first action (high priority) is 70.6 % of your income comes from Acme GmbH." in text
    assert "Your second action (high priority) is Marketing spending jumped in October 2026." in text


def test_send_refuses_another_user_and_other_sessions(app, client, ledger_client):
    user_id = ledger_client.user_id
    session_id = _create_session(ledger_client, user_id, asOfDate=AS_OF)["sessionId"]
    other = make_user()
    body = {"sessionId": session_id, "userId": str(other.id), "payloadType": "text", "payload": "hi"}
    assert ledger_client.post("/api/chat/send", json=body).status_code == 403
    # Another workspace's owner, naming themselves, cannot reach the session.
    body["userId"] = str(other.id)
    assert client.post("/api/chat/send", json=body, headers=auth_headers(other)).status_code == 404
    # A random session id is not found either.
    body = {**body, "sessionId": "0190f3a2-7c1e-7b7a-9d2f-000000000000", "userId": str(user_id)}
    assert ledger_client.post("/api/chat/send", json=body).status_code == 404
    # A plain (non-coach) conversation of the caller is not a coach session.
    plain = ledger_client.post("/api/v1/chat/conversations", json={}).json["id"]
    body = {"sessionId": plain, "userId": str(user_id), "payloadType": "text", "payload": "hi"}
    assert ledger_client.post("/api/chat/send", json=body).status_code == 404
    body = {"sessionId": session_id, "userId": str(user_id), "payloadType": "text", "payload": "  "}
    assert ledger_client.post("/api/chat/send", json=body).status_code == 400
    body["payloadType"] = "video"
    assert ledger_client.post("/api/chat/send", json=body).status_code == 422


def test_the_coach_grounding_is_registered_with_the_reply_job():
    assert "money_coach" in reply_jobs._GROUNDING
