"""Field types of a recordset: the spec format, validation and normalisation of values per type,
and the conversion of stored values when a field changes type.

A field spec (one item of ``Recordset.fields``, in display order)::

    {"key": "amount",            # stable identifier, the key in Record.values; [a-z0-9_], <= 120
     "name": "Amount",           # display name (renaming a field changes only this)
     "type": "currency",         # one of FIELD_TYPES
     "required": false,
     "description": null,
     "options": {...}}           # per type, below

Options per type:

- number / currency / percent: ``min``, ``max``, ``precision`` (decimals kept; currency default 2),
  currency: ``currency`` (ISO code, display only).
- single_select / multi_select: ``choices``: list of strings or {"value", "label", "color"}
  (normalised to objects); values are matched by value or label, case-insensitively.
- relation: ``recordset_id`` (the target recordset, required), ``multiple`` (list of ids).
- user / file: ``multiple``.
- text: ``max_length`` (default 10,000); long_text: ``max_length`` (default 1,000,000).

Stored (normalised) values: text/long_text/email/phone/url: str; number/percent/currency: int or
float (percent 45 means 45%); date: "YYYY-MM-DD"; datetime: "YYYY-MM-DDTHH:MM:SSZ" (UTC), so
both sort as text; boolean: true/false; single_select: the choice value; multi_select: list of
choice values; address: {"street", "street2", "city", "state", "postal_code", "country",
"formatted"} (strings, only those present); geo_point: {"lat", "lng"}; user: a member id of the
workspace (an email of a member is accepted and resolved); relation: a record id (or list) of the
target recordset; file: a stored file id (or list) of the workspace; json: any JSON value.
An empty value (None, "", [], {}) is stored as absent.
"""

import datetime as dt
import json
import math
import re
import uuid
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import sqlalchemy as sa

FIELD_TYPES = (
    "text",
    "long_text",
    "number",
    "currency",
    "percent",
    "date",
    "datetime",
    "boolean",
    "single_select",
    "multi_select",
    "email",
    "phone",
    "url",
    "address",
    "geo_point",
    "user",
    "relation",
    "file",
    "json",
)
NUMERIC_TYPES = {"number", "currency", "percent"}
TEXT_TYPES = {"text", "long_text", "email", "phone", "url", "single_select"}
# Values that name rows elsewhere (members, records, stored files): checked against the database.
REFERENCE_TYPES = frozenset({"user", "relation", "file"})
ADDRESS_PARTS = ("street", "street2", "city", "state", "postal_code", "country", "formatted")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,119}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "yes", "y", "1", "on", "t", "x"}
_FALSE = {"false", "no", "n", "0", "off", "f"}
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%m/%d/%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
)
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")


class FieldError(ValueError):
    """A value that the field cannot hold; the message is shown to the user."""


# --- field specs ---------------------------------------------------------------------------------


def slugify_key(text):
    key = re.sub(r"[^a-z0-9]+", "_", str(text or "").strip().lower()).strip("_")
    if not key or not key[0].isalpha():
        key = f"f_{key}" if key else "field"
    return key[:120]


def _choice(item):
    if isinstance(item, dict):
        value = str(item.get("value") if item.get("value") is not None else item.get("label", "")).strip()
        label = str(item.get("label") or value)
        choice = {"value": value, "label": label}
        if item.get("color"):
            choice["color"] = str(item["color"])
        return choice
    value = str(item).strip()
    return {"value": value, "label": value}


def normalise_spec(spec, *, existing_keys=()):
    """A field spec as stored: key derived from the name when absent, options checked per type.

    Raises FieldError naming what is wrong.
    """
    if not isinstance(spec, dict):
        raise FieldError("A field must be an object with at least a name and a type.")
    name = str(spec.get("name") or spec.get("key") or "").strip()
    if not name:
        raise FieldError("A field needs a name.")
    key = spec.get("key") or slugify_key(name)
    if not _KEY.match(key):
        raise FieldError(f"Field key {key!r} must start with a letter and use only a-z, 0-9 and _.")
    if key in existing_keys:
        raise FieldError(f"There is already a field with the key {key!r}.")
    field_type = spec.get("type") or "text"
    if field_type not in FIELD_TYPES:
        raise FieldError(f"Unknown field type {field_type!r}; use one of: {', '.join(FIELD_TYPES)}.")
    options = dict(spec.get("options") or {})
    if field_type in ("single_select", "multi_select"):
        choices = [_choice(item) for item in options.get("choices") or []]
        values = [choice["value"] for choice in choices]
        if len(set(values)) != len(values):
            raise FieldError(f"Field {name!r} lists the same choice twice.")
        options["choices"] = choices
    if field_type == "relation":
        target = options.get("recordset_id")
        try:
            options["recordset_id"] = str(uuid.UUID(str(target)))
        except ValueError:
            raise FieldError(
                f"Relation field {name!r} needs options.recordset_id (the target recordset)."
            ) from None
    clean = {
        "key": key,
        "name": name,
        "type": field_type,
        "required": bool(spec.get("required", False)),
        "description": spec.get("description"),
        "options": options,
    }
    return clean


def normalise_specs(specs):
    clean, keys = [], set()
    for spec in specs or []:
        field = normalise_spec(spec, existing_keys=keys)
        keys.add(field["key"])
        clean.append(field)
    return clean


# --- value normalisers per type ------------------------------------------------------------------


def is_empty(value):
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def _as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        if isinstance(value, dict) and "lat" in value and "lng" in value:
            return f"{value['lat']},{value['lng']}"
        if isinstance(value, dict):
            return ", ".join(
                str(value[p]) for p in ADDRESS_PARTS if value.get(p) and p != "formatted"
            ) or str(value.get("formatted", ""))
        return ", ".join(_as_text(item) for item in value)
    return str(value)


def _text(value, spec, *, default_max=10_000):
    text = _as_text(value).strip()
    limit = spec["options"].get("max_length") or default_max
    if len(text) > limit:
        raise FieldError(f"must be at most {limit} characters")
    return text


def _long_text(value, spec):
    text = _as_text(value) if not isinstance(value, str) else value
    return _text(text, spec, default_max=1_000_000) if text.strip() else ""


def _number(value, spec, *, strip=""):
    if isinstance(value, bool):
        raise FieldError("must be a number")
    if isinstance(value, (int, float)):
        number = Decimal(str(value))
    else:
        text = str(value).strip().replace(",", "").replace("_", "").replace(" ", "")
        for char in strip:
            text = text.replace(char, "")
        negative = text.startswith("(") and text.endswith(")")  # accounting negatives: (12.50)
        text = text.strip("()")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise FieldError("must be a number") from None
        number = -number if negative else number
    if not number.is_finite():
        raise FieldError("must be a finite number")
    options = spec["options"]
    precision = options.get("precision")
    if precision is None and spec["type"] == "currency":
        precision = 2
    if precision is not None:
        number = round(number, int(precision))
    if options.get("min") is not None and number < Decimal(str(options["min"])):
        raise FieldError(f"must be at least {options['min']}")
    if options.get("max") is not None and number > Decimal(str(options["max"])):
        raise FieldError(f"must be at most {options['max']}")
    if number == number.to_integral_value() and abs(number) < 2**53:
        return int(number)
    return float(number)


def _currency(value, spec):
    return _number(value, spec, strip="$€£¥₹CHFUSDEURGBP")


def _percent(value, spec):
    return _number(value, spec, strip="%")


def parse_date(value):
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FieldError("must be a date (YYYY-MM-DD)")


def _date(value, spec):
    return parse_date(value).isoformat()


def parse_datetime(value):
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        moment = None
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for fmt in _DATETIME_FORMATS:
                try:
                    moment = dt.datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if moment is None:
            raise FieldError("must be a date and time (ISO 8601)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _datetime(value, spec):
    return parse_datetime(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _boolean(value, spec):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldError("must be true or false")


def _match_choice(value, spec):
    text = _as_text(value).strip()
    for choice in spec["options"].get("choices") or []:
        if text == choice["value"] or text.lower() in (choice["value"].lower(), choice["label"].lower()):
            return choice["value"]
    allowed = ", ".join(choice["value"] for choice in spec["options"].get("choices") or []) or "none defined"
    raise FieldError(f"{text!r} is not one of the choices ({allowed})")


def _single_select(value, spec):
    return _match_choice(value, spec)


def _split_list(value):
    if isinstance(value, (list, tuple, set)):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
                if isinstance(parsed, list):
                    return parsed
            except ValueError:
                pass
        return [part for part in re.split(r"[,;|]", text) if part.strip()]
    return [value]


def _multi_select(value, spec):
    chosen = []
    for item in _split_list(value):
        choice = _match_choice(item, spec)
        if choice not in chosen:
            chosen.append(choice)
    return chosen


def _email(value, spec):
    text = _as_text(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not _EMAIL.match(text) or len(text) > 320:
        raise FieldError("must be an email address")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def _phone(value, spec):
    text = _as_text(value).strip()
    if isinstance(value, float):
        text = str(int(value))
    plus = text.startswith("+") or text.startswith("00")
    digits = re.sub(r"\D", "", text[2:] if text.startswith("00") else text)
    if re.search(r"[A-Za-z]", text.split("ext")[0].split("x")[0]) or not 5 <= len(digits) <= 15:
        raise FieldError("must be a phone number (5 to 15 digits)")
    return f"+{digits}" if plus else digits


def _url(value, spec):
    text = _as_text(value).strip()
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or "." not in (parts.hostname or "") or " " in text:
        raise FieldError("must be a web address (http or https)")
    return text


def _address(value, spec):
    if isinstance(value, str):
        return {"formatted": value.strip()}
    if not isinstance(value, dict):
        raise FieldError("must be an address object or text")
    aliases = {
        "zip": "postal_code",
        "postcode": "postal_code",
        "zip_code": "postal_code",
        "line1": "street",
        "line2": "street2",
        "address": "street",
        "region": "state",
        "province": "state",
    }
    clean = {}
    for name, part in value.items():
        name = aliases.get(name, name)
        if name not in ADDRESS_PARTS:
            raise FieldError(f"unknown address part {name!r} (use {', '.join(ADDRESS_PARTS)})")
        if not is_empty(part):
            clean[name] = _as_text(part).strip()
    return clean


def _coordinate(value, low, high, name):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(f"{name} must be a number") from None
    if math.isnan(number) or not low <= number <= high:
        raise FieldError(f"{name} must be between {low} and {high}")
    return number


def _geo_point(value, spec):
    if isinstance(value, str):
        parts = [part for part in re.split(r"[,;\s]+", value.strip()) if part]
        value = parts
    if isinstance(value, dict):
        if value.get("type") == "Point" and isinstance(value.get("coordinates"), list):
            lng, lat = value["coordinates"][:2]
        else:
            lat = value.get("lat", value.get("latitude"))
            lng = value.get("lng", value.get("lon", value.get("longitude")))
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        lat, lng = value
    else:
        raise FieldError('must be a point: {"lat": .., "lng": ..} or "lat,lng"')
    return {"lat": _coordinate(lat, -90, 90, "latitude"), "lng": _coordinate(lng, -180, 180, "longitude")}


def _uuid_text(value, what):
    try:
        return str(uuid.UUID(str(value).strip()))
    except ValueError:
        raise FieldError(f"must be {what} id") from None


def _references(value, spec, what):
    items = _split_list(value) if spec["options"].get("multiple") else [value]
    ids = [_uuid_text(item, what) for item in items if not is_empty(item)]
    return ids if spec["options"].get("multiple") else ids[0]


def _user(value, spec):
    items = _split_list(value) if spec["options"].get("multiple") else [value]
    refs = []
    for item in items:
        text = str(item).strip()
        refs.append(text.lower() if "@" in text else _uuid_text(text, "a member"))
    return refs if spec["options"].get("multiple") else refs[0]


def _relation(value, spec):
    return _references(value, spec, "a record")


def _file(value, spec):
    return _references(value, spec, "a file")


def _json(value, spec):
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in '[{"' or text in ("true", "false", "null") or re.match(r"^-?\d", text):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise FieldError("must be a JSON value") from None
    return value


NORMALISERS = {
    "text": _text,
    "long_text": _long_text,
    "number": _number,
    "currency": _currency,
    "percent": _percent,
    "date": _date,
    "datetime": _datetime,
    "boolean": _boolean,
    "single_select": _single_select,
    "multi_select": _multi_select,
    "email": _email,
    "phone": _phone,
    "url": _url,
    "address": _address,
    "geo_point": _geo_point,
    "user": _user,
    "relation": _relation,
    "file": _file,
    "json": _json,
}


def normalise_value(spec, value):
    """The stored form of `value` for the field `spec`, or None when empty. Raises FieldError.

    References (user, relation, file) are only checked for shape here; `References` checks that
    they exist in the workspace.
    """
    if is_empty(value):
        return None
    clean = NORMALISERS[spec["type"]](value, spec)
    return None if is_empty(clean) else clean


# --- compiled normalisers: the same results for the cells of a file, without per-value dispatch --
#
# An import normalises millions of cells of a handful of fields. `compile_normaliser(spec)` builds
# one function per field with a fast path for the plain text forms files usually hold ("1234.56",
# "2024-05-01", "true"...); anything else (and every value the fast path is unsure about) goes to
# the generic normaliser above, which also words the errors. Each fast path returns what
# `normalise_value` returns for the same input (tests/records/test_fields.py checks them side by
# side); `_SLOW` means "not sure: ask the generic normaliser".

_SLOW = object()
_PLAIN_INTEGER = re.compile(r"-?[0-9]{1,15}")
# At most 9 + 6 digits: a float tells integral from fractional values exactly, like the Decimal.
_PLAIN_DECIMAL = re.compile(r"(-?[0-9]{1,9})\.([0-9]{1,6})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Four-digit years from 1000 on: strftime writes years below 1000 without leading zeros.
_ISO_DATETIME = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?")
_PLAIN_PHONE = re.compile(r"\+?[0-9][0-9 ().\-/]*")
_NOT_DIGITS = re.compile(r"[^0-9]")
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:[/?#][^\s]*)?")
_PLAIN_POINT = re.compile(r"(-?[0-9]{1,3}(?:\.[0-9]+)?)\s*,\s*(-?[0-9]{1,3}(?:\.[0-9]+)?)")


def _fast_text(spec, default_max=10_000):
    limit = spec["options"].get("max_length") or default_max
    return lambda text: text if len(text) <= limit else _SLOW


def _fast_number(spec):
    options = spec["options"]
    if options.get("min") is not None or options.get("max") is not None:
        return None
    precision = options.get("precision")
    if precision is None and spec["type"] == "currency":
        precision = 2
    if precision is not None and int(precision) < 0:
        return None
    places = 6 if precision is None else min(6, int(precision))

    def number(text):
        if _PLAIN_INTEGER.fullmatch(text):
            return int(text)
        match = _PLAIN_DECIMAL.fullmatch(text)
        if match is None or len(match[2]) > places:
            return _SLOW  # more decimals than kept: rounded by the generic normaliser
        return float(text) if match[2].strip("0") else int(match[1])

    return number


def _fast_date(spec):
    def date(text):
        if _ISO_DATE.fullmatch(text):
            try:
                dt.date.fromisoformat(text)
            except ValueError:
                return _SLOW
            return text
        return _SLOW

    return date


def _fast_datetime(spec):
    def datetime(text):
        if _ISO_DATETIME.fullmatch(text):
            try:
                dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return _SLOW
            return f"{text[:19]}Z"
        return _SLOW

    return datetime


def _fast_boolean(spec):
    table = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
    return lambda text: table.get(text.lower(), _SLOW)


def _fast_single_select(spec):
    table = {}
    for choice in spec["options"].get("choices") or []:  # the first matching choice wins, as in _match_choice
        table.setdefault(choice["value"].lower(), choice["value"])
        table.setdefault(choice["label"].lower(), choice["value"])
    return lambda text: table.get(text.lower(), _SLOW)


def _fast_email(spec):
    def email(text):
        if len(text) <= 320 and _EMAIL.match(text) and text[:7].lower() != "mailto:":
            local, _, domain = text.rpartition("@")
            return f"{local}@{domain.lower()}"
        return _SLOW

    return email


def _fast_phone(spec):
    def phone(text):
        if text.startswith("00") or not _PLAIN_PHONE.fullmatch(text):
            return _SLOW
        digits = _NOT_DIGITS.sub("", text)
        if not 5 <= len(digits) <= 15:
            return _SLOW
        return f"+{digits}" if text[0] == "+" else digits

    return phone


def _fast_url(spec):
    def url(text):
        if "://" not in text:
            text = f"https://{text}"
        return text if _PLAIN_URL.fullmatch(text) else _SLOW

    return url


def _fast_geo_point(spec):
    def point(text):
        match = _PLAIN_POINT.fullmatch(text)
        if match is None:
            return _SLOW
        lat, lng = float(match[1]), float(match[2])
        if -90 <= lat <= 90 and -180 <= lng <= 180:
            return {"lat": lat, "lng": lng}
        return _SLOW

    return point


_FAST_PATHS = {
    "text": _fast_text,
    "long_text": lambda spec: _fast_text(spec, default_max=1_000_000),
    "number": _fast_number,
    "currency": _fast_number,
    "percent": _fast_number,
    "date": _fast_date,
    "datetime": _fast_datetime,
    "boolean": _fast_boolean,
    "single_select": _fast_single_select,
    "email": _fast_email,
    "phone": _fast_phone,
    "url": _fast_url,
    "geo_point": _fast_geo_point,
}


def compile_normaliser(spec):
    """`normalise_value` for one field as a function of the value alone, built once per field."""
    generic = NORMALISERS[spec["type"]]
    make_fast = _FAST_PATHS.get(spec["type"])
    fast = make_fast(spec) if make_fast else None

    def normalise(value):
        if value.__class__ is str:
            text = value.strip()
            if not text:
                return None
            if fast is not None:
                clean = fast(text)
                if clean is not _SLOW:
                    return clean
        elif value is None or is_empty(value):
            return None
        clean = generic(value, spec)
        return None if is_empty(clean) else clean

    return normalise


def _json_text(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_JSON_STRING = json.encoder.encode_basestring  # the C encoder json.dumps(ensure_ascii=False) uses
_JSON_BOOLEAN = {True: "true", False: "false"}.__getitem__
_STRING_TYPES = {"text", "long_text", "email", "phone", "url", "date", "datetime", "single_select"}


def json_encoder(spec):
    """A function writing a normalised value of `spec` as JSON text (what json.dumps writes, compact)."""
    if spec["type"] in _STRING_TYPES:
        return _JSON_STRING
    if spec["type"] in NUMERIC_TYPES:
        return repr  # int and float repr are their JSON (values are finite)
    if spec["type"] == "boolean":
        return _JSON_BOOLEAN
    if spec["type"] == "geo_point":
        return lambda point: f'{{"lat":{point["lat"]!r},"lng":{point["lng"]!r}}}'
    return _json_text


# --- references: members, records and files of the workspace, checked in bulk --------------------


class References:
    """Checks user/relation/file values against the database, one query per kind per batch.

    Collect the references of many rows first (`collect`), then `resolve` them all at once, then
    `check` each row's values: an import of 10,000 rows costs three queries, not 30,000.
    """

    def __init__(self, workspace_id):
        self.workspace_id = workspace_id
        self.wanted = {"user": set(), "relation": {}, "file": set()}
        self.members = {}  # member id or lower email -> member id
        self.records = {}  # target recordset id -> set of record ids
        self.files = set()

    def collect(self, spec, value):
        if value is None or spec["type"] not in REFERENCE_TYPES:
            return
        items = value if isinstance(value, list) else [value]
        if spec["type"] == "relation":
            self.wanted["relation"].setdefault(spec["options"]["recordset_id"], set()).update(items)
        else:
            self.wanted[spec["type"]].update(items)

    def resolve(self):
        from narrative.extensions import db
        from narrative.identity.models import Member, User
        from narrative.platform.storage import StoredFile
        from narrative.records.models import ACTIVE, Record

        users = self.wanted["user"] - set(self.members)
        if users:
            emails = {item for item in users if "@" in item}
            ids = [uuid.UUID(item) for item in users if "@" not in item]
            stmt = (
                sa.select(Member.id, User.email)
                .join(User, User.id == Member.user_id)
                .where(Member.workspace_id == self.workspace_id, Member.status != "deactivated")
                .where(sa.or_(Member.id.in_(ids), sa.func.lower(User.email).in_(emails)))
            )
            for member_id, email in db.session.execute(stmt):
                self.members[str(member_id)] = str(member_id)
                self.members[email.lower()] = str(member_id)
        for recordset_id, wanted in self.wanted["relation"].items():
            known = self.records.setdefault(recordset_id, set())
            missing = [uuid.UUID(item) for item in wanted - known]
            if missing:
                stmt = sa.select(Record.id).where(
                    Record.workspace_id == self.workspace_id,
                    Record.recordset_id == uuid.UUID(recordset_id),
                    Record.status == ACTIVE,
                    Record.id.in_(missing),
                )
                known.update(str(row) for row in db.session.scalars(stmt))
        files = [uuid.UUID(item) for item in self.wanted["file"] - self.files]
        if files:
            stmt = sa.select(StoredFile.id).where(
                StoredFile.workspace_id == self.workspace_id, StoredFile.id.in_(files)
            )
            self.files.update(str(row) for row in db.session.scalars(stmt))
        self.wanted = {"user": set(), "relation": {}, "file": set()}

    def check(self, spec, value):
        """The value with member emails replaced by member ids; FieldError for unknown references."""
        if value is None or spec["type"] not in REFERENCE_TYPES:
            return value
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if spec["type"] == "user":
                if item not in self.members:
                    raise FieldError(f"{item} is not a member of this workspace")
                item = self.members[item]
            elif spec["type"] == "relation":
                if item not in self.records.get(spec["options"]["recordset_id"], set()):
                    raise FieldError(f"record {item} does not exist in the related recordset")
            elif item not in self.files:
                raise FieldError(f"file {item} does not exist")
            if item not in out:
                out.append(item)
        return out if isinstance(value, list) else out[0]
