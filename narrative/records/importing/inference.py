"""Field types inferred from sample values, and the parsers that turn imported cells into typed values.

A column gets the most specific type that at least 80 % of its non-empty samples parse as (so a
column of dates with a few typos is still a date column; the typos become row errors at import).
"""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

INFERRED_TYPES = (
    "boolean",
    "number",
    "currency",
    "percent",
    "date",
    "datetime",
    "email",
    "url",
    "phone",
    "geo",
    "text",
)
MATCH_SHARE = 0.8
SAMPLE_SIZE = 200

TRUE_WORDS = {"true", "yes", "y", "1", "t", "on"}
FALSE_WORDS = {"false", "no", "n", "0", "f", "off"}
BOOLEAN_WORDS = {"true", "false", "yes", "no", "y", "n", "t", "f"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
URL = re.compile(r"^(https?://|www\.)[^\s]+\.[^\s]+$", re.IGNORECASE)
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
CURRENCY = re.compile(
    r"^(?P<sign>-)?\s*(?P<symbol>[$€£¥])\s*(?P<amount>[\d.,\s]+)$|^(?P<amount2>-?[\d.,\s]+)\s*(?P<symbol2>[$€£¥]|USD|EUR|GBP)$"
)
PERCENT = re.compile(r"^(?P<amount>-?[\d.,]+)\s*%$")
GEO = re.compile(r"^\s*\(?\s*(-?\d{1,2}(?:\.\d+)?)\s*[,;]\s*(-?\d{1,3}(?:\.\d+)?)\s*\)?\s*$")
DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%b %d, %Y",
    "%d %b %Y",
)
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
)


class CellError(ValueError):
    """A cell that does not parse as its column's type; the message is the report's reason."""


def _text(value):
    return "" if value is None else str(value).strip()


def parse_number(value):
    if isinstance(value, bool):
        raise CellError("not a number")
    if isinstance(value, (int, float)):
        return value
    text = _text(value).replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    elif re.fullmatch(r"-?\d+,\d+", text):
        text = text.replace(",", ".")  # a decimal comma (semicolon-separated European files)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError("not a number") from None
    if not number.is_finite():
        raise CellError("not a number")
    return int(number) if number == number.to_integral_value() and "." not in text else float(number)


def parse_currency(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    match = CURRENCY.match(_text(value))
    if not match:
        return parse_number(value)
    amount = match.group("amount") or match.group("amount2")
    number = parse_number(amount)
    return -number if match.group("sign") else number


def parse_percent(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    match = PERCENT.match(_text(value))
    return parse_number(match.group("amount") if match else value)


def parse_boolean(value):
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise CellError("not a yes/no value")


def parse_date(value):
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise CellError("not a date")


def parse_datetime(value):
    if isinstance(value, datetime):
        return value.isoformat()
    text = _text(value)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        pass
    for fmt in DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    raise CellError("not a date and time")


def _pattern_parser(pattern, reason):
    def parse(value):
        text = _text(value)
        if not pattern.match(text):
            raise CellError(reason)
        return text

    return parse


def parse_geo(value):
    match = GEO.match(_text(value))
    if not match:
        raise CellError("not a latitude, longitude pair")
    latitude, longitude = float(match.group(1)), float(match.group(2))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise CellError("coordinates out of range")
    return {"latitude": latitude, "longitude": longitude}


PARSERS = {
    "boolean": parse_boolean,
    "number": parse_number,
    "currency": parse_currency,
    "percent": parse_percent,
    "date": parse_date,
    "datetime": parse_datetime,
    "email": _pattern_parser(EMAIL, "not an email address"),
    "url": _pattern_parser(URL, "not a web address"),
    "phone": _pattern_parser(PHONE, "not a phone number"),
    "geo": parse_geo,
    "text": lambda value: _text(value) if not isinstance(value, str) else value,
}


def is_empty(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _matches(kind, value):
    if kind == "boolean" and not isinstance(value, bool) and _text(value).lower() not in BOOLEAN_WORDS:
        return False  # 0/1 columns are numbers, not yes/no
    if (
        kind == "number"
        and isinstance(value, str)
        and (" " in value.strip() or value.strip().startswith("+"))
    ):
        return False  # "+1 555 0100" is a phone number, not a number with spaces
    if kind == "currency" and not CURRENCY.match(_text(value)):
        return False
    if kind == "percent" and not PERCENT.match(_text(value)):
        return False
    if kind == "date" and isinstance(value, str) and re.search(r"\d:\d", value):
        return False
    try:
        PARSERS[kind](value)
    except CellError:
        return False
    return True


def infer_type(samples):
    """The most specific type that `MATCH_SHARE` of the non-empty samples parse as; text otherwise."""
    values = [value for value in samples if not is_empty(value)]
    if not values:
        return "text"
    for kind in INFERRED_TYPES[:-1]:
        matched = sum(1 for value in values if _matches(kind, value))
        if matched >= MATCH_SHARE * len(values):
            return kind
    return "text"


def parse_cell(kind, value):
    """The typed value of a cell for a column of `kind`; None for an empty cell; CellError if it does not parse."""
    if is_empty(value):
        return None
    return PARSERS.get(kind, PARSERS["text"])(value)
