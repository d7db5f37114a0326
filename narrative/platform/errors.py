"""The one error format, on every family and every status.

Every response that is not 2xx is JSON with the union of the seeds' shapes::

    {"error": "not_found", "message": "...", "detail": "...", "request_id": "req_...",
     "details": [{"field": "address.zip", "message": "..."}]}   # details on validation errors

Domain code raises `ApiError` (or a subclass); Flask's, webargs' and marshmallow's errors are
translated here, so no handler ever builds an error body of its own.
"""

import logging
import math
from contextlib import contextmanager

from flask import g, jsonify
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("narrative.errors")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    501: "not_implemented",
    502: "upstream_unreachable",
    503: "service_unavailable",
    504: "upstream_timeout",
}

MESSAGES = {
    404: "The requested resource was not found.",
    405: "This method is not allowed on this resource.",
    413: "The request body is larger than this endpoint accepts.",
    422: "The request did not pass validation.",
    500: "Something went wrong on our side; the request id identifies it in our logs.",
}


class ApiError(Exception):
    """An error a client should see: a status, a machine code and a human message."""

    status = 400
    code = None
    message = None

    def __init__(self, message=None, *, status=None, code=None, details=None, headers=None, extra=None):
        """`extra` adds fields to the body (e.g. retry_after_seconds) beside the standard ones."""
        self.status = status or self.status
        self.code = code or self.code or CODES.get(self.status, "error")
        self.message = message or self.message or MESSAGES.get(self.status) or self.code.replace("_", " ")
        self.details = details
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.message)


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401
    message = "Authentication is required."


class Forbidden(ApiError):
    status = 403
    message = "You do not have permission to do this."


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class ValidationFailed(ApiError):
    status = 422


class ServiceUnavailable(ApiError):
    status = 503


class ProviderNotConfigured(ApiError):
    """An external provider this endpoint needs has no settings; the message names what to set."""

    status = 503
    code = "provider_not_configured"


class RateLimited(ApiError):
    """Too many requests: the body's retry_after_seconds and the Retry-After header say when to retry."""

    status = 429

    def __init__(self, message=None, *, retry_after_seconds=1, headers=None):
        # Clients sleep for this long, so it is a whole number of seconds and never 0.
        retry_after = max(1, math.ceil(retry_after_seconds))
        self.retry_after_seconds = retry_after
        super().__init__(
            message or f"Too many requests; retry in {retry_after} seconds.",
            headers={**(headers or {}), "Retry-After": str(retry_after)},
            extra={"retry_after_seconds": retry_after},
        )


def error_response(status, code, message, *, details=None, headers=None, extra=None):
    body = {
        "error": code,
        "message": message,
        "detail": message,
        "request_id": g.get("request_id"),
    }
    if details:
        body["details"] = details
    if extra:
        body.update(extra)
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages, prefix=""):
    """Turn marshmallow's nested {field: [messages]} into [{field: "a.b", message}]."""
    flat = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.extend(flatten_messages(value, path))
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, dict | list | tuple):
                flat.extend(flatten_messages(item, prefix))
            else:
                flat.append({"field": prefix or None, "message": str(item)})
    else:
        flat.append({"field": prefix or None, "message": str(messages)})
    return flat


def validation_details(messages):
    """webargs groups messages by location (json, query, files...); the field path is what matters."""
    details = []
    for location, fields in (messages or {}).items():
        for item in flatten_messages(fields):
            if location not in ("json", "form", "json_or_form"):
                item["location"] = location
            details.append(item)
    return details


def handle_api_error(error):
    return error_response(
        error.status,
        error.code,
        error.message,
        details=error.details,
        headers=error.headers,
        extra=error.extra,
    )


def handle_http_exception(error):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    details = validation_details(messages) if isinstance(messages, dict) else None
    message = data.get("message") or MESSAGES.get(status) or error.description
    if status == 400 and details and any("Invalid JSON" in d["message"] for d in details):
        message, details = "The request body is not valid JSON.", None
    elif status == 400 and "JSON" in (error.description or ""):
        message = "The request body is not valid JSON."
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(status, CODES.get(status, "error"), message, details=details, headers=headers)


def handle_unexpected_exception(error):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception(
        "unhandled error",
        extra={"fields": {"request_id": g.get("request_id"), "error_type": type(error).__name__}},
    )
    return error_response(500, "internal_error", MESSAGES[500])


# --- what the database refused, in words -----------------------------------------------------

UNIQUE, FOREIGN_KEY, NOT_NULL, CHECK = "unique", "foreign_key", "not_null", "check"
_PG_KINDS = {"23505": UNIQUE, "23503": FOREIGN_KEY, "23502": NOT_NULL, "23514": CHECK}
_SQLITE_KINDS = {
    "UNIQUE constraint failed": UNIQUE,
    "FOREIGN KEY constraint failed": FOREIGN_KEY,
    "NOT NULL constraint failed": NOT_NULL,
    "CHECK constraint failed": CHECK,
}
# Columns that every scoped row has: naming them would tell the client nothing.
_IMPLIED_COLUMNS = {"workspace_id", "deleted_at"}


def _constraint_columns(name):
    """The columns of the named unique constraint or index, from the models' metadata."""
    from narrative.extensions import db

    for table in db.metadata.tables.values():
        for item in (*table.constraints, *table.indexes):
            if item.name == name:
                return [column.name for column in item.columns]
    return []


def describe_integrity_error(exc):
    """(kind, columns) of a constraint violation, on PostgreSQL (sqlstate and diagnostics) and SQLite."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        kind = _PG_KINDS.get(sqlstate)
        diag = getattr(orig, "diag", None)
        if kind == NOT_NULL and diag is not None and diag.column_name:
            return kind, [diag.column_name]
        return kind, _constraint_columns(getattr(diag, "constraint_name", None))
    text = str(orig)
    for prefix, kind in _SQLITE_KINDS.items():
        if text.startswith(prefix):
            named = text[len(prefix) :].lstrip(": ").split(", ")
            if kind in (UNIQUE, NOT_NULL):
                return kind, [item.rsplit(".", 1)[-1] for item in named if item]
            return kind, _constraint_columns(named[0]) if kind == CHECK else []
    return None, []


def integrity_error_as_api_error(exc):
    """A constraint violation as the client should read it (a 409 conflict, naming fields when known)."""
    kind, columns = describe_integrity_error(exc)
    fields = [column for column in columns if column not in _IMPLIED_COLUMNS]
    named = ", ".join(fields)
    if kind == UNIQUE:
        message = (
            f"This already exists: another item has the same {named}." if named else "This already exists."
        )
    elif kind == FOREIGN_KEY:
        message = "This refers to something that does not exist (or was just deleted)."
    elif kind == NOT_NULL:
        message = f"A value is required for {named}." if named else "A required value is missing."
    else:
        message = "This conflicts with the data already stored."
    details = [{"field": field, "message": message} for field in fields] or None
    return Conflict(message, details=details)


def handle_integrity_error(error):
    log.info("integrity error: %s", error.orig, extra={"fields": {"request_id": g.get("request_id")}})
    return handle_api_error(integrity_error_as_api_error(error))


def handle_data_error(error):
    """A value the database cannot store slipped past the schema (the schema should refuse it)."""
    log.warning("data error: %s", error.orig, extra={"fields": {"request_id": g.get("request_id")}})
    return error_response(422, "validation_failed", "A value is out of range or not storable.")


def register_error_handlers(app):
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected_exception)


@contextmanager
def integrity_errors_as_conflict(message):
    """A unique or foreign-key violation inside the block becomes a 409 with this domain message.

    The block runs in a savepoint, so the rest of the unit of work survives the refusal. Without
    this, the one error handler still answers 409, with the constraint's generic meaning.
    """
    from narrative.extensions import db

    try:
        with db.session.begin_nested():
            yield
    except IntegrityError as exc:
        log.info("integrity error: %s", exc.orig)
        raise Conflict(message) from None
