"""The SaltEdge adapter against a fake SaltEdge server (respx): what goes on the wire, pagination by
next_id, signed callbacks (a tampered one is refused), the sync job, and 503 while unconfigured."""

import base64
import json
import uuid

import httpx
import pytest
import respx
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from narrative.banking.models import BankAccount, BankConnection, BankTransaction
from narrative.extensions import db
from narrative.integrations.models import Integration
from narrative.platform.jobs import Job
from tests.identity.factories import auth_headers, make_user, workspace_of
from workers.worker import run_jobs_in_process

BASE = "https://saltedge.test/api/v6"
CALLBACK_URL = "https://narrative.example.com/api/integrations/saltedge/callback"
SETTINGS = (
    "SALTEDGE_APP_ID",
    "SALTEDGE_SECRET",
    "SALTEDGE_BASE_URL",
    "SALTEDGE_PUBLIC_KEY",
    "SALTEDGE_CALLBACK_URL",
)


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def unconfigured(app, monkeypatch):
    for name in (*SETTINGS, "SALTEDGE_PUBLIC_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.setitem(app.config, name, None)


@pytest.fixture
def configured(app, unconfigured, monkeypatch, signing_key):
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    monkeypatch.setitem(app.config, "SALTEDGE_APP_ID", "app-123")
    monkeypatch.setitem(app.config, "SALTEDGE_SECRET", "secret-456")
    monkeypatch.setitem(app.config, "SALTEDGE_BASE_URL", BASE)
    monkeypatch.setitem(app.config, "SALTEDGE_PUBLIC_KEY", pem.decode())
    monkeypatch.setitem(app.config, "SALTEDGE_CALLBACK_URL", CALLBACK_URL)


def sign(key, url, body):
    signature = key.sign(url.encode() + b"|" + body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def fake_saltedge(mock):
    """Routes of a SaltEdge with one customer, one connection, one account and 3 pages of transactions."""
    mock.post(f"{BASE}/customers").mock(
        return_value=httpx.Response(200, json={"data": {"customer_id": "cust-1", "identifier": "x"}})
    )
    mock.post(f"{BASE}/connections/connect").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": {
                    "connect_url": "https://www.saltedge.com/connect?token=abc",
                    "expires_at": "2026-11-23T15:00:00Z",
                    "customer_id": "cust-1",
                }
            },
        )
    )
    mock.get(f"{BASE}/connections/conn-1").mock(
        return_value=httpx.Response(
            200, json={"data": {"id": "conn-1", "provider_name": "Fake Bank", "status": "active"}}
        )
    )
    mock.get(f"{BASE}/connections", params={"customer_id": "cust-1"}).mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [{"id": "conn-1", "provider_name": "Fake Bank", "status": "active"}],
                "meta": {"next_id": None, "next_page": None},
            },
        )
    )
    mock.get(f"{BASE}/accounts", params={"connection_id": "conn-1"}).mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "acc-1",
                        "name": "Main account",
                        "nature": "account",
                        "balance": 5230.5,
                        "currency_code": "EUR",
                        "connection_id": "conn-1",
                    }
                ],
                "meta": {"next_id": None, "next_page": None},
            },
        )
    )
    pages = {
        None: (
            [
                txn("t1", "2026-10-01", 2500, "Invoice 7", payer="Acme Corp"),
                txn("t2", "2026-10-02", -84, "GitHub"),
            ],
            "t3",
        ),
        "t3": (
            [
                txn("t3", "2026-10-05", -3200, "Office rent", payee="Landlord"),
                txn("t4", "2026-10-06", -9, "Pending", status="pending"),
            ],
            "t5",
        ),
        "t5": ([txn("t5", "2026-10-07", -15, "Bank charge", category="bank_charges")], None),
    }

    def transactions(request):
        assert request.url.params["connection_id"] == "conn-1"
        assert request.url.params["account_id"] == "acc-1"
        data, next_id = pages[request.url.params.get("from_id")]
        return httpx.Response(200, json={"data": data, "meta": {"next_id": next_id, "next_page": None}})

    return mock.get(f"{BASE}/transactions").mock(side_effect=transactions)


def txn(
    ident, day, amount, description, *, payer=None, payee=None, status="posted", category="uncategorized"
):
    extra = {key: value for key, value in (("payer", payer), ("payee", payee)) if value}
    return {
        "id": ident,
        "account_id": "acc-1",
        "made_on": day,
        "amount": amount,
        "currency_code": "EUR",
        "description": description,
        "category": category,
        "duplicated": False,
        "mode": "normal",
        "status": status,
        "extra": extra,
    }


def test_connect_without_settings_is_503_naming_them(app, unconfigured):
    user = make_user()
    response = app.test_client().post("/api/integrations/saltedge/connect", headers=auth_headers(user))
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "provider_not_configured"
    assert "SALTEDGE_APP_ID" in body["detail"] and "SALTEDGE_SECRET" in body["detail"]


@respx.mock
def test_connect_creates_the_customer_and_a_connect_session(app, configured):
    fake_saltedge(respx.mock)
    user = make_user()
    client = app.test_client()
    response = client.post("/api/integrations/saltedge/connect", headers=auth_headers(user))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["connect_url"] == "https://www.saltedge.com/connect?token=abc"
    assert body["status"] == "pending" and body["integrationId"]

    customer_call, session_call = respx.calls[0], respx.calls[1]
    assert customer_call.request.headers["App-id"] == "app-123"
    assert customer_call.request.headers["Secret"] == "secret-456"
    identifier = json.loads(customer_call.request.content)["data"]["identifier"]
    assert str(user.id) in identifier
    session = json.loads(session_call.request.content)["data"]
    assert session["customer_id"] == "cust-1"
    assert session["consent"]["scopes"] == ["accounts", "transactions"]
    assert "from_date" in session["consent"]

    integration = db.session.scalar(sa.select(Integration))
    assert (integration.status, integration.external_id, integration.provider) == (
        "pending",
        "cust-1",
        "saltedge",
    )

    # A second connect reuses the customer.
    client.post("/api/integrations/saltedge/connect", headers=auth_headers(user))
    assert [call.request.url.path for call in respx.calls].count("/api/v6/customers") == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Integration)) == 1


@respx.mock
def test_saltedge_errors_are_502_naming_what_it_said(app, configured):
    respx.post(f"{BASE}/customers").mock(
        return_value=httpx.Response(
            401, json={"error": {"class": "InvalidCredentials", "message": "bad keys"}}
        )
    )
    response = app.test_client().post("/api/integrations/saltedge/connect", headers=auth_headers(make_user()))
    assert response.status_code == 502
    assert "InvalidCredentials" in response.get_json()["detail"]


def _connect(app, user):
    response = app.test_client().post("/api/integrations/saltedge/connect", headers=auth_headers(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["integrationId"]


def _callback(app, body, signature, kind="success"):
    headers = {"Signature": signature, "Content-Type": "application/json"} if signature else {}
    return app.test_client().post(
        "/api/integrations/saltedge/callback" + ("" if kind == "success" else f"/{kind}"),
        data=body,
        headers=headers,
    )


def _success_body(stage="finish"):
    return json.dumps(
        {
            "data": {"connection_id": "conn-1", "customer_id": "cust-1", "custom_fields": {}, "stage": stage},
            "meta": {"version": "6", "time": "2026-11-23T14:00:00Z"},
        }
    ).encode()


@respx.mock
def test_signed_callback_syncs_with_pagination_and_resync_adds_nothing(app, configured, signing_key):
    transactions_route = fake_saltedge(respx.mock)
    user = make_user()
    integration_id = _connect(app, user)

    body = _success_body()
    response = _callback(app, body, sign(signing_key, CALLBACK_URL, body))
    assert response.status_code == 200, response.get_json()
    job_id = response.get_json()["job_id"]
    assert job_id
    run_jobs_in_process(app)

    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "COMPLETED", job.error
    assert job.result == {"connections": 1, "accounts": 1, "imported": 4}
    assert transactions_route.call_count == 3
    assert [call.request.url.params.get("from_id") for call in transactions_route.calls] == [None, "t3", "t5"]

    account = db.session.scalar(sa.select(BankAccount))
    assert (account.name, account.currency, str(account.balance)) == ("Main account", "EUR", "5230.50")
    connection = db.session.scalar(sa.select(BankConnection))
    assert (connection.provider, connection.external_id, connection.institution_name) == (
        "saltedge",
        "conn-1",
        "Fake Bank",
    )
    rows = {t.external_id: t for t in db.session.scalars(sa.select(BankTransaction))}
    assert set(rows) == {"t1", "t2", "t3", "t5"}  # the pending one is left for later
    assert (rows["t1"].counterparty, rows["t1"].category) == ("Acme Corp", "revenue")
    assert rows["t2"].category == "software"
    assert (rows["t3"].counterparty, rows["t3"].category) == ("Landlord", "rent")
    assert (rows["t5"].category, rows["t5"].category_source) == ("bank_fees", "provider")
    integration = db.session.get(Integration, uuid.UUID(integration_id))
    assert integration.status == "connected" and integration.last_synced_at is not None

    # A manual sync reads everything again and adds nothing.
    client = app.test_client()
    started = client.post(f"/api/integrations/{integration_id}/sync", headers=auth_headers(user))
    assert started.status_code == 202
    run_jobs_in_process(app)
    db.session.expire_all()
    assert db.session.get(Job, started.get_json()["jobId"]).result["imported"] == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BankTransaction)) == 4
    status = client.get(f"/api/integrations/jobs/{started.get_json()['jobId']}", headers=auth_headers(user))
    assert status.get_json()["status"] == "COMPLETED"


@respx.mock
def test_a_sync_failing_midway_keeps_the_finished_pages_and_ends_failed(app, configured):
    transactions_route = fake_saltedge(respx.mock)
    user = make_user()
    integration_id = _connect(app, user)
    answer_pages = transactions_route.side_effect

    def third_page_fails(request):
        if request.url.params.get("from_id") == "t5":
            return httpx.Response(500, json={"error": {"class": "ApiError", "message": "try later"}})
        return answer_pages(request)

    transactions_route.side_effect = third_page_fails
    started = app.test_client().post(f"/api/integrations/{integration_id}/sync", headers=auth_headers(user))
    assert started.status_code == 202
    run_jobs_in_process(app)

    db.session.expire_all()
    job = db.session.get(Job, started.get_json()["jobId"])
    assert job.status == "FAILED" and job.error
    # The two finished pages were checkpointed; the failed page added nothing.
    assert {t.external_id for t in db.session.scalars(sa.select(BankTransaction))} == {"t1", "t2", "t3"}
    integration = db.session.get(Integration, uuid.UUID(integration_id))
    assert integration.status == "error" and integration.last_error == job.error


@respx.mock
def test_a_callback_starts_a_job_in_the_integrations_workspace(app, configured, signing_key):
    fake_saltedge(respx.mock)
    user = make_user()
    integration_id = _connect(app, user)
    body = _success_body()
    response = _callback(app, body, sign(signing_key, CALLBACK_URL, body))
    assert response.status_code == 200
    job = db.session.get(Job, response.get_json()["job_id"])
    integration = db.session.get(Integration, uuid.UUID(integration_id))
    assert (job.workspace_id, job.user_id) == (integration.workspace_id, user.id)


@respx.mock
def test_tampered_or_unsigned_callbacks_are_refused(app, configured, signing_key):
    fake_saltedge(respx.mock)
    _connect(app, make_user())
    body = _success_body()
    signature = sign(signing_key, CALLBACK_URL, body)
    tampered = body.replace(b"conn-1", b"conn-2")
    assert _callback(app, tampered, signature).status_code == 401
    assert _callback(app, body, None).status_code == 401
    assert _callback(app, body, "bm90IGEgc2lnbmF0dXJl").status_code == 401
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _callback(app, body, sign(other_key, CALLBACK_URL, body)).status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


@respx.mock
def test_callbacks_of_other_stages_and_failures(app, configured, signing_key, monkeypatch):
    fake_saltedge(respx.mock)
    _connect(app, make_user())
    body = _success_body(stage="fetch_accounts")
    response = _callback(app, body, sign(signing_key, CALLBACK_URL, body))
    assert response.status_code == 200 and response.get_json()["job_id"] is None

    fail_url = CALLBACK_URL + "/fail"
    fail = json.dumps(
        {
            "data": {
                "connection_id": "conn-1",
                "customer_id": "cust-1",
                "error_class": "InvalidCredentials",
                "error_message": "Wrong password",
            },
            "meta": {"version": "6"},
        }
    ).encode()
    monkeypatch.setitem(app.config, "SALTEDGE_CALLBACK_URL", fail_url)
    assert _callback(app, fail, sign(signing_key, fail_url, fail), kind="fail").status_code == 200
    integration = db.session.scalar(sa.select(Integration))
    db.session.refresh(integration)
    assert (integration.status, integration.last_error) == ("error", "Wrong password")


def test_callbacks_need_the_public_key(app, unconfigured):
    body = _success_body()
    response = _callback(app, body, "c2lnbmF0dXJl")
    assert response.status_code == 503
    assert "SALTEDGE_PUBLIC_KEY" in response.get_json()["detail"]


@respx.mock
def test_sync_of_another_members_integration_is_404(app, configured):
    fake_saltedge(respx.mock)
    owner = make_user()
    integration_id = _connect(app, owner)
    stranger = make_user()
    response = app.test_client().post(
        f"/api/integrations/{integration_id}/sync", headers=auth_headers(stranger)
    )
    assert response.status_code == 404
    colleague = make_user(workspace=workspace_of(owner))  # same workspace, another member
    for integration in (integration_id, str(uuid.uuid4()), "not-a-uuid"):
        response = app.test_client().post(
            f"/api/integrations/{integration}/sync", headers=auth_headers(colleague)
        )
        assert response.status_code == 404, integration
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
