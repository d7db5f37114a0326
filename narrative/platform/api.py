"""flask-smorest subclassed once, so operation ids, security docs and errors are added in one place."""

import copy
import hashlib
from collections.abc import Mapping

import flask
import flask_smorest
import marshmallow as ma
from apispec import BasePlugin

from narrative.platform import errors
from narrative.platform.schemas import Schema


class ErrorDetailSchema(Schema):
    field = ma.fields.String(allow_none=True, metadata={"description": "The field's path, e.g. address.zip"})
    message = ma.fields.String()
    location = ma.fields.String(
        metadata={"description": "Where the field was sent when not in the body: query, headers, path, files"}
    )


class ErrorSchema(Schema):
    """The one error body (documentation only: `errors.error_response` writes it).

    `errors.ApiError(extra=...)` adds fields beside the standard ones (`retry_after_seconds` on a
    429, `required_permission` on a 403, `job_id` on a 409 migration_running, a provider's name on
    a 503 provider_not_configured...), so the object is open: clients read the standard fields and
    may read the extra ones an error code documents.
    """

    class Meta:
        unknown = ma.INCLUDE  # documented as additionalProperties: true

    error = ma.fields.String(
        required=True, metadata={"description": "Machine-readable code, e.g. validation_failed"}
    )
    message = ma.fields.String(required=True, metadata={"description": "What went wrong, for people"})
    detail = ma.fields.String(
        metadata={"description": "Same text as message (SDK and studio clients read it)"}
    )
    request_id = ma.fields.String(metadata={"description": "Identifies the request in our logs"})
    details = ma.fields.List(
        ma.fields.Nested(ErrorDetailSchema), metadata={"description": "Validation errors"}
    )
    retry_after_seconds = ma.fields.Integer(
        validate=ma.validate.Range(min=1),
        metadata={
            "description": "On 429 rate_limited: whole seconds to wait before retrying (the Retry-After header)"
        },
    )
    required_permission = ma.fields.String(
        metadata={"description": "On 403: the permission the caller lacks, e.g. members.manage"}
    )


SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sk_...",
        "description": "Workspace API key, sent as `Authorization: Bearer sk_...`",
    },
    "executionToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sxt_...",
        "description": "Execution token for one proxied action, `Authorization: Bearer sxt_...`",
    },
}


# ---- standard error responses, documented on every operation they can answer -------------------

RATE_LIMITED_RESPONSE = "RATE_LIMITED"
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def standard_errors(path, method, operation):
    """{status: response component} of the errors the platform itself can answer on an operation.

    - 401 and 403 on every operation that needs credentials (security not empty): a missing or
      expired credential, no workspace (x-workspace-id), not a member, a missing permission;
    - 404 when the path names something ({id} parameters);
    - 409 on writes (a unique or foreign-key conflict, a concurrent change);
    - 422 when the operation takes parameters or a body (validation_failed, with details);
    - 429 on every operation (rate_limited: `retry_after_seconds` and Retry-After).
    """
    found = {}
    if operation.get("security"):
        found[401] = "UNAUTHORIZED"
        found[403] = "FORBIDDEN"
    if "{" in path:
        found[404] = "NOT_FOUND"
    if method in WRITE_METHODS:
        found[409] = "CONFLICT"
    if "{" in path or operation.get("parameters") or operation.get("requestBody"):
        found[422] = "UNPROCESSABLE_ENTITY"
    found[429] = RATE_LIMITED_RESPONSE
    return found


# A view without `@blp.response` answers what it returns with Flask's 200 (a dict or list as JSON).
UNDESCRIBED_SUCCESS = {
    "description": "OK (the body's schema is not described yet)",
    "content": {"application/json": {"schema": {}}},
}


def documents_success(responses):
    return any(str(status)[:1] in "23" for status in responses)


ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
RETRY_AFTER_HEADER = {
    "description": "Whole seconds to wait before retrying (as retry_after_seconds)",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def complete_error_response(status, response):
    """An operation's own error entry that only describes (`@blp.alt_response(502, description=...)`)
    still answers the one error body, and a 429 its Retry-After header (see narrative.platform.errors)."""
    if str(status)[:1] not in "45" or "$ref" in response:
        return
    response.setdefault("content", copy.deepcopy(ERROR_CONTENT))
    if str(status) == "429":
        response.setdefault("headers", {}).setdefault("Retry-After", dict(RETRY_AFTER_HEADER))


class StandardErrorsPlugin(BasePlugin):
    """Adds `standard_errors` to each operation, beside the responses its decorators document
    (an operation's own entry for a status always wins, completed by `complete_error_response`),
    and the 200 a view without any documented success answers, so every operation documents the
    status it returns when it succeeds."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if not documents_success(responses):
                responses["200"] = copy.deepcopy(UNDESCRIBED_SUCCESS)
            for status, response in responses.items():
                if isinstance(response, dict):
                    complete_error_response(status, response)
            documented = {str(status) for status in responses}
            for status, component in standard_errors(path or "", method, operation).items():
                if str(status) not in documented:
                    responses[str(status)] = component


def _rate_limited_response(api):
    return {
        "description": "Too Many Requests: rate_limited, with retry_after_seconds",
        "content": {api.DEFAULT_RESPONSE_CONTENT_TYPE: {"schema": api.ERROR_SCHEMA}},
        "headers": {"Retry-After": dict(RETRY_AFTER_HEADER)},
    }


# ---- Server-Sent Events --------------------------------------------------------------------------

EVENT_STREAM = "text/event-stream"
SERVER_SENT_EVENT = "ServerSentEvent"
SERVER_SENT_EVENT_SCHEMA = {
    "type": "object",
    "description": "One Server-Sent Events frame (comments such as `: keep-alive` are not events)",
    "required": ["data"],
    "properties": {
        "event": {"type": "string", "description": "The event name; `message` when the frame has none"},
        "data": {"type": "string", "description": "The frame's payload: one JSON document on one line"},
        "id": {"type": "string", "description": "Resume point: send it back as Last-Event-ID"},
        "retry": {"type": "integer", "minimum": 0, "description": "Reconnection delay in milliseconds"},
    },
}


def is_event_stream_response(response):
    """A response entry documents an event stream: its content type says so, or (content type left to
    the default) its description starts with `text/event-stream` or `Server-Sent Events`."""
    content_type = response.get("content_type")
    if content_type:
        return content_type.split(";")[0].strip().lower() == EVENT_STREAM
    description = (response.get("description") or "").lstrip()
    return description.startswith((EVENT_STREAM, "Server-Sent Events"))


def event_stream_schema(frame_schema, api):
    """The schema of each event of a stream (Open API 3.0 documents an event stream per event).

    A frame schema given to `@blp.response` describes the JSON in `data`; it stays a component and
    `data` points at it with `x-frame-schema`.
    """
    if frame_schema is None:
        return {"$ref": f"#/components/schemas/{SERVER_SENT_EVENT}"}
    frame_ref = (
        frame_schema
        if isinstance(frame_schema, Mapping)
        else api.ma_plugin.converter.resolve_nested_schema(frame_schema)
    )
    properties = dict(SERVER_SENT_EVENT_SCHEMA["properties"])
    name = frame_ref.get("$ref", "").rsplit("/", 1)[-1] if isinstance(frame_ref, Mapping) else ""
    properties["data"] = {
        **properties["data"],
        "description": f"The frame's payload: one {name or 'JSON'} document on one line",
        "x-frame-schema": frame_ref,
    }
    return {**SERVER_SENT_EVENT_SCHEMA, "properties": properties}


# ---- other non-JSON bodies ------------------------------------------------------------------------

OPAQUE_BODY_SCHEMA = {"type": "string", "format": "binary"}


def is_opaque_body(response):
    """A response that names a content type other than JSON and gives no schema (a CSV, an image,
    NDJSON lines): flask-smorest would document no content at all, so the content type is lost."""
    content_type = (response.get("content_type") or "").split(";")[0].strip().lower()
    if not content_type or response.get("schema") is not None:
        return False
    return not (content_type == "application/json" or content_type.endswith("+json"))


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *, spec_kwargs=None):
        super().init_app(app, spec_kwargs=spec_kwargs)
        for name, scheme in SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)
        self.spec.components.schema(SERVER_SENT_EVENT, component=SERVER_SENT_EVENT_SCHEMA)
        self.spec.components.response(RATE_LIMITED_RESPONSE, _rate_limited_response(self))
        # Blueprints are registered after init_app, so the plugin sees every operation.
        plugin = StandardErrorsPlugin()
        plugin.init_spec(self.spec)
        self.spec.plugins.append(plugin)

    def handle_http_exception(self, error):
        return errors.handle_http_exception(error)

    def register_blueprint(self, blp, *, parameters=None, **options):
        self._openapi_document = None
        super().register_blueprint(blp, parameters=parameters, **options)

    def _openapi_json(self):
        """The OpenAPI document, written once per process (it only changes when blueprints are
        registered, at start-up) with an ETag, instead of rebuilt on every request (~60 ms)."""
        document = getattr(self, "_openapi_document", None)
        if document is None:
            body = flask.json.dumps(self.spec.to_dict(), indent=2, sort_keys=False).encode()
            document = self._openapi_document = (body, hashlib.sha256(body).hexdigest()[:32])
        body, etag = document
        response = flask.current_app.response_class(body, mimetype="application/json")
        response.set_etag(etag)
        return response.make_conditional(flask.request)


class Blueprint(flask_smorest.Blueprint):
    def _prepare_response_doc(self, doc, doc_info, *, api, spec, **kwargs):
        """Event-stream responses are documented as `text/event-stream` (flask-smorest documents no
        content for a response without a schema, and the JSON default for one whose content type
        is left out); see `is_event_stream_response`. Other non-JSON responses without a schema
        keep their content type, with an opaque body (`is_opaque_body`)."""
        for responses in doc_info.get("response", {}).get("responses", {}).values():
            for response in responses:
                if not isinstance(response, Mapping):
                    continue
                if is_event_stream_response(response):
                    response["content_type"] = EVENT_STREAM
                    response["schema"] = event_stream_schema(response.pop("schema", None), api)
                elif is_opaque_body(response):
                    response["schema"] = dict(OPAQUE_BODY_SCHEMA)
        return super()._prepare_response_doc(doc, doc_info, api=api, spec=spec, **kwargs)

    def operation(self, operation_id, *, also=(), description=None):
        """Name the catalog entry a view serves: its OpenAPI operationId.

        `also` lists the other families' entries the same handler serves (a shared path); they are
        written into the operation's description, where the coverage tool looks for them.
        """
        doc = {"operationId": operation_id}
        text = description or ""
        if also:
            text = (text + "\n\n" if text else "") + "Also serves: " + ", ".join(also) + "."
        if text:
            doc["description"] = text
        return self.doc(**doc)
