"""Statement imports as jobs: CSV with a column mapping, OFX, re-imports, overrides, progress stream."""

import io
import json
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from narrative.banking.models import BankAccount, BankTransaction
from narrative.extensions import db
from narrative.integrations.statements import read_csv, read_ofx
from narrative.platform.jobs import Job
from tests.identity.factories import auth_headers, make_user
from workers.worker import run_jobs_in_process

CSV = """Booking date;Text;Payee;Amount;Balance
03.01.2026;Invoice 2025-12 payment;Acme Corp;4.500,00;14.500,00
05.01.2026;Office rent;Brightspace Properties;-3.200,00;11.300,00
12.01.2026;Coffee;Corner Cafe;-4,50;11.295,50
12.01.2026;Coffee;Corner Cafe;-4,50;11.291,00
28.01.2026;Monthly payroll;Gusto Payroll;-6.000,00;5.291,00
"""
MAPPING = {
    "date": "Booking date",
    "description": "Text",
    "counterparty": "Payee",
    "amount": "Amount",
    "balance": "Balance",
}

DEBIT_CREDIT_CSV = """Date,Description,Paid out,Paid in
01/31/2026,AWS cloud services,52.10,
02/13/2026,Customer payment,,1200.00
"""

OFX_SGML = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252

<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20260201120000<LANGUAGE>ENG
<FI><ORG>Test Bank<FID>123</FI></SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>GBP
<BANKACCTFROM><BANKID>000000<ACCTID>12345678<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20260101<DTEND>20260131
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260105120000[0:GMT]<TRNAMT>2500.00<FITID>F1<NAME>Globex GmbH<MEMO>Invoice 14</STMTTRN>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260110<TRNAMT>-45.00<FITID>F2<NAME>Figma<MEMO>Figma Professional</STMTTRN>
<STMTTRN><TRNTYPE>FEE<DTPOSTED>20260131<TRNAMT>-7.50<FITID>F3<NAME>Test Bank<MEMO>Monthly account fee</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>8123.45<DTASOF>20260131</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""

OFX_XML = """<?xml version="1.0" encoding="UTF-8"?>
<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD</CURDEF>
<BANKACCTFROM><BANKID>1</BANKID><ACCTID>999</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>
<BANKTRANLIST>
<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20260301</DTPOSTED><TRNAMT>-10.00</TRNAMT><FITID>X1</FITID><NAME>Slack</NAME></STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>90.00</BALAMT><DTASOF>20260301</DTASOF></LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def _import(client, user, content, filename, **form):
    data = {"file": (io.BytesIO(content.encode()), filename)}
    for key, value in form.items():
        data[key] = json.dumps(value) if isinstance(value, dict) else value
    response = client.post(
        "/api/integrations/statements",
        data=data,
        content_type="multipart/form-data",
        headers=auth_headers(user),
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _finished(app, started):
    run_jobs_in_process(app)
    db.session.expire_all()
    return db.session.get(Job, started["jobId"])


def _transactions():
    return db.session.scalars(
        sa.select(BankTransaction).order_by(BankTransaction.booked_on, BankTransaction.amount)
    ).all()


def test_csv_import_with_mapping_then_reimport_adds_nothing(app):
    user = make_user()
    client = app.test_client()
    started = _import(
        client, user, CSV, "january.csv", mapping=MAPPING, account_name="Business", currency="EUR"
    )
    assert started["streamUrl"] == f"/api/integrations/jobs/{started['jobId']}/stream"
    job = _finished(app, started)
    assert job.status == "COMPLETED", job.error
    assert (job.result["read"], job.result["imported"], job.result["duplicates"]) == (5, 5, 0)

    rows = _transactions()
    assert [(t.booked_on, t.amount) for t in rows][:2] == [
        (date(2026, 1, 3), Decimal("4500.00")),
        (date(2026, 1, 5), Decimal("-3200.00")),
    ]
    assert [t.category for t in rows] == ["revenue", "rent", "other", "other", "payroll"]
    account = db.session.scalar(sa.select(BankAccount))
    assert (account.name, account.currency, account.balance) == ("Business", "EUR", Decimal("5291.00"))
    assert account.balance_at == date(2026, 1, 28)

    again = _finished(
        app,
        _import(
            client, user, CSV, "january-again.csv", mapping=MAPPING, account_name="Business", currency="EUR"
        ),
    )
    assert (again.result["imported"], again.result["duplicates"]) == (0, 5)
    assert len(_transactions()) == 5

    listed = client.get("/api/integrations?integration_type=bank", headers=auth_headers(user)).get_json()
    assert [(i["provider"], i["status"]) for i in listed["integrations"]] == [("statement", "connected")]


def test_an_override_is_used_by_the_next_import(app):
    user = make_user()
    client = app.test_client()
    _finished(app, _import(client, user, CSV, "january.csv", mapping=MAPPING, account_name="Business"))
    coffee = next(t for t in _transactions() if t.counterparty == "Corner Cafe")
    response = client.patch(
        f"/api/money/transactions/{coffee.id}", json={"category": "marketing"}, headers=auth_headers(user)
    )
    assert response.status_code == 200
    february = "Booking date;Text;Payee;Amount\n02.02.2026;Client meeting coffee;Corner Cafe;-9,00\n"
    _finished(
        app,
        _import(
            client,
            user,
            february,
            "february.csv",
            mapping=MAPPING | {"balance": None},
            account_name="Business",
        ),
    )
    new = next(t for t in _transactions() if t.description == "Client meeting coffee")
    assert (new.category, new.category_source) == ("marketing", "user")


def test_debit_and_credit_columns_and_guessed_mapping():
    statement = read_csv(
        DEBIT_CREDIT_CSV,
        {"date": "Date", "description": "Description", "debit": "Paid out", "credit": "Paid in"},
    )
    assert [(t.booked_on, t.amount) for t in statement.transactions] == [
        (date(2026, 1, 31), Decimal("-52.10")),
        (date(2026, 2, 13), Decimal("1200.00")),
    ]
    guessed = read_csv("Date,Amount,Description\n2026-03-01,-12.00,Slack\n", None, default_currency="usd")
    assert (guessed.transactions[0].amount, guessed.transactions[0].currency) == (Decimal("-12.00"), "USD")


def test_ofx_sgml_and_xml():
    statement = read_ofx(OFX_SGML)
    assert (statement.currency, statement.account_id, statement.balance) == (
        "GBP",
        "12345678",
        Decimal("8123.45"),
    )
    assert statement.balance_at == date(2026, 1, 31)
    assert [(t.booked_on, t.amount, t.counterparty, t.external_id) for t in statement.transactions] == [
        (date(2026, 1, 5), Decimal("2500.00"), "Globex GmbH", "fitid:F1"),
        (date(2026, 1, 10), Decimal("-45.00"), "Figma", "fitid:F2"),
        (date(2026, 1, 31), Decimal("-7.50"), "Test Bank", "fitid:F3"),
    ]
    xml = read_ofx(OFX_XML)
    assert (xml.currency, xml.balance, len(xml.transactions)) == ("USD", Decimal("90.00"), 1)


def test_ofx_import_job_and_its_stream(app):
    user = make_user()
    client = app.test_client()
    started = _import(client, user, OFX_SGML, "statement.ofx")
    job = _finished(app, started)
    assert job.status == "COMPLETED", job.error
    assert job.result["imported"] == 3
    account = db.session.scalar(sa.select(BankAccount))
    assert (account.currency, account.balance, account.external_id) == ("GBP", Decimal("8123.45"), "12345678")
    assert {t.category for t in _transactions()} == {"revenue", "software", "bank_fees"}
    assert _finished(app, _import(client, user, OFX_SGML, "statement.ofx")).result["imported"] == 0

    stream = client.get(started["streamUrl"], headers=auth_headers(user))
    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
    text = stream.get_data(as_text=True)
    assert "COMPLETED" in text and "data:" in text
    assert client.get(started["streamUrl"], headers=auth_headers(make_user())).status_code == 404


def test_unreadable_statements_fail_with_a_reason(app):
    user = make_user()
    client = app.test_client()
    job = _finished(
        app,
        _import(
            client,
            user,
            "When,What\nyesterday,stuff\n",
            "bad.csv",
            mapping={"date": "When", "amount": "How much"},
        ),
    )
    assert job.status == "FAILED"
    assert "How much" in job.error
    bad_mapping = client.post(
        "/api/integrations/statements",
        data={"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv"), "mapping": "not json"},
        content_type="multipart/form-data",
        headers=auth_headers(user),
    )
    assert bad_mapping.status_code == 422
    no_file = client.post("/api/integrations/statements", data={}, headers=auth_headers(user))
    assert no_file.status_code == 422


def test_balances_roll_forward_and_an_older_statement_does_not_wind_them_back(app):
    user = make_user()
    client = app.test_client()
    form = {"mapping": MAPPING, "account_name": "Business", "currency": "EUR"}
    _finished(app, _import(client, user, CSV, "january.csv", **form))
    account = db.session.scalar(sa.select(BankAccount))
    assert (account.balance, account.balance_at) == (Decimal("5291.00"), date(2026, 1, 28))

    february = "Booking date;Text;Payee;Amount\n02.02.2026;Client payment;Initech;1.000,00\n"
    _finished(
        app,
        _import(client, user, february, "february.csv", **form | {"mapping": MAPPING | {"balance": None}}),
    )
    db.session.refresh(account)
    assert (account.balance, account.balance_at) == (Decimal("6291.00"), date(2026, 2, 2))

    december = "Booking date;Text;Payee;Amount;Balance\n15.12.2025;Old payment;Umbrella Co;500,00;10.000,00\n"
    _finished(app, _import(client, user, december, "december.csv", **form))
    db.session.refresh(account)
    assert (account.balance, account.balance_at) == (Decimal("6291.00"), date(2026, 2, 2))
