"""Reading bank statements: CSV with a column mapping, and OFX (1.x SGML and 2.x XML).

Both readers return a `Statement`: the account it describes (when the file says), the closing
balance (when it says) and `IncomingTxn`s for narrative.banking.service.store_transactions.

CSV mapping (JSON, keys in snake_case or camelCase; values are header names of the file):

    {"date": "Booking date", "amount": "Amount", "description": "Text", "counterparty": "Payee",
     "currency": "Currency", "balance": "Balance", "date_format": "%d.%m.%Y", "delimiter": ";"}

`amount` may be replaced by `debit` and `credit` (two columns of positive numbers: money out, money
in). Without a mapping the headers are guessed from common names. Dates are read with
`date_format`, else with the first of the usual formats that reads every row of the file (so
03/04 is read the same way throughout).
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from narrative.banking.service import IncomingTxn, money

DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%m/%d/%y",
)
MAPPING_KEYS = ("date", "amount", "debit", "credit", "description", "counterparty", "currency", "balance")
GUESSES = {
    "date": ("date", "booking date", "booked on", "transaction date", "posted", "posting date", "value date"),
    "amount": ("amount", "value", "sum", "betrag"),
    "debit": ("debit", "money out", "paid out", "withdrawal"),
    "credit": ("credit", "money in", "paid in", "deposit"),
    "description": ("description", "details", "memo", "reference", "text", "narrative"),
    "counterparty": ("counterparty", "payee", "name", "merchant", "beneficiary", "payer"),
    "currency": ("currency", "ccy"),
    "balance": ("balance", "running balance"),
}


class StatementError(ValueError):
    """The file cannot be read as a statement; the message says why, for the person importing it."""


@dataclass
class Statement:
    transactions: list = field(default_factory=list)
    account_id: str | None = None
    account_name: str | None = None
    currency: str | None = None
    balance: Decimal | None = None
    balance_at: date | None = None
    institution: str | None = None


def detect_format(filename, head):
    text = (
        head.lstrip()[:200].upper()
        if isinstance(head, str)
        else head.lstrip()[:200].decode("latin-1").upper()
    )
    if text.startswith("OFXHEADER") or "<OFX>" in text or (filename or "").lower().endswith((".ofx", ".qfx")):
        return "ofx"
    return "csv"


# ---- CSV ------------------------------------------------------------------------------------------


def normalise_mapping(mapping):
    """Lower-case snake_case keys; unknown keys dropped, `dateFormat` accepted for `date_format`."""
    result = {}
    for key, value in (mapping or {}).items():
        snake = re.sub(r"(?<!^)([A-Z])", r"_\1", str(key)).lower()
        known = snake in MAPPING_KEYS or snake in ("date_format", "delimiter")
        if known and value not in (None, ""):
            result[snake] = value
    return result


def _guess_mapping(headers):
    lowered = {header.strip().lower(): header for header in headers}
    mapping = {}
    for key, names in GUESSES.items():
        for name in names:
            if name in lowered and lowered[name] not in mapping.values():
                mapping[key] = lowered[name]
                break
    return mapping


def _check_mapping(mapping, headers):
    if "date" not in mapping:
        raise StatementError("The mapping needs a `date` column.")
    if "amount" not in mapping and not ("debit" in mapping or "credit" in mapping):
        raise StatementError("The mapping needs an `amount` column, or `debit` and `credit` columns.")
    missing = [value for key, value in mapping.items() if key in MAPPING_KEYS and value not in headers]
    if missing:
        raise StatementError(
            "These mapped columns are not in the file: "
            + ", ".join(map(str, missing))
            + ". The file's columns are: "
            + ", ".join(headers)
            + "."
        )


def _date_format(values, explicit):
    if explicit:
        return explicit
    for candidate in DATE_FORMATS:
        try:
            for value in values:
                datetime.strptime(value.strip(), candidate)
        except ValueError:
            continue
        return candidate
    sample = values[0] if values else ""
    raise StatementError(
        f"Dates like {sample!r} are not in a known format; send `date_format` in the mapping."
    )


def _cell(row, mapping, key):
    column = mapping.get(key)
    return (row.get(column) or "").strip() if column else ""


def _amount(row, mapping, line):
    try:
        if "amount" in mapping:
            return money(_cell(row, mapping, "amount"))
        debit = _cell(row, mapping, "debit")
        credit = _cell(row, mapping, "credit")
        return (money(credit) if credit else Decimal("0")) - (abs(money(debit)) if debit else Decimal("0"))
    except ValueError:
        raise StatementError(f"Line {line}: the amount is not a number.") from None


def read_csv(text, mapping=None, *, default_currency=None):
    mapping = normalise_mapping(mapping)
    sample = text[:4096]
    delimiter = mapping.get("delimiter")
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    headers = [h for h in (reader.fieldnames or []) if h is not None]
    if not headers:
        raise StatementError("The file has no header row.")
    if not any(key in mapping for key in MAPPING_KEYS):
        mapping = {**_guess_mapping(headers), **mapping}
    _check_mapping(mapping, headers)
    rows = [
        (line, row)
        for line, row in enumerate(reader, start=2)
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]
    fmt = _date_format([_cell(row, mapping, "date") for _, row in rows], mapping.get("date_format"))
    statement = Statement()
    latest = None
    for line, row in rows:
        try:
            booked_on = datetime.strptime(_cell(row, mapping, "date"), fmt).date()
        except ValueError:
            raise StatementError(
                f"Line {line}: {_cell(row, mapping, 'date')!r} is not a date ({fmt})."
            ) from None
        amount = _amount(row, mapping, line)
        currency = (_cell(row, mapping, "currency") or default_currency or "").upper() or None
        statement.transactions.append(
            IncomingTxn(
                booked_on=booked_on,
                amount=amount,
                currency=currency,
                description=_cell(row, mapping, "description"),
                counterparty=_cell(row, mapping, "counterparty") or None,
            )
        )
        balance = _cell(row, mapping, "balance")
        if balance and (latest is None or booked_on >= latest):
            # The running balance of the last row of the latest day is the closing balance.
            latest = booked_on
            statement.balance, statement.balance_at = money(balance), booked_on
        statement.currency = statement.currency or currency
    return statement


# ---- OFX ------------------------------------------------------------------------------------------

_TAG = re.compile(r"<([A-Z0-9.]+)>([^<\r\n]*)", re.IGNORECASE)


def _ofx_date(value):
    digits = re.match(r"\s*(\d{8})", value or "")
    if not digits:
        raise StatementError(f"{value!r} is not an OFX date.")
    return datetime.strptime(digits.group(1), "%Y%m%d").date()


def _blocks(text, name):
    return re.findall(rf"<{name}>(.*?)</{name}>", text, re.IGNORECASE | re.DOTALL)


def _fields(block):
    """The simple elements of a block: {TAG: value}; works for SGML (no closing tags) and XML."""
    return {tag.upper(): value.strip() for tag, value in _TAG.findall(block) if value.strip()}


def read_ofx(text):
    """Bank (STMTRS) or credit card (CCSTMTRS) statements; the first statement of the file."""
    body = text[text.upper().find("<OFX>") :] if "<OFX>" in text.upper() else text
    if not re.search(r"(?i)<STMTTRN>", body) and not re.search(r"(?i)<(CC)?STMTRS>", body):
        raise StatementError("This OFX file holds no bank statement.")
    statement = Statement()
    head = re.split(r"(?i)<BANKTRANLIST>", body, maxsplit=1)[0]
    head_fields = _fields(head)
    statement.currency = head_fields.get("CURDEF")
    statement.account_id = head_fields.get("ACCTID")
    statement.institution = head_fields.get("ORG")
    ledger = _blocks(body, "LEDGERBAL")
    if ledger:
        balance = _fields(ledger[0])
        if "BALAMT" in balance:
            statement.balance = money(balance["BALAMT"])
        if "DTASOF" in balance:
            statement.balance_at = _ofx_date(balance["DTASOF"])
    # A transaction ends at its closing tag, or (SGML exports that omit it) where the next begins.
    for block in re.findall(r"(?is)<STMTTRN>(.*?)(?=</STMTTRN>|<STMTTRN>|</BANKTRANLIST>)", body):
        values = _fields(block)
        if "TRNAMT" not in values or "DTPOSTED" not in values:
            continue
        name, memo = values.get("NAME") or values.get("PAYEE"), values.get("MEMO")
        statement.transactions.append(
            IncomingTxn(
                booked_on=_ofx_date(values["DTPOSTED"]),
                amount=money(values["TRNAMT"]),
                currency=values.get("CURRENCY") or statement.currency,
                description=memo or name or values.get("TRNTYPE", ""),
                counterparty=name,
                external_id=("fitid:" + values["FITID"]) if values.get("FITID") else None,
                details={"trntype": values.get("TRNTYPE")} if values.get("TRNTYPE") else {},
            )
        )
    return statement


def read_statement(text, *, filename=None, file_format=None, mapping=None, default_currency=None):
    file_format = file_format or detect_format(filename, text[:512])
    if file_format == "ofx":
        statement = read_ofx(text)
    elif file_format == "csv":
        statement = read_csv(text, mapping, default_currency=default_currency)
    else:
        raise StatementError("The format must be csv or ofx.")
    if not statement.transactions:
        raise StatementError("The file holds no transactions.")
    return statement
