"""flask-smorest subclassed once, so operation ids, security docs and errors are added in one place."""

import hashlib

import flask
import flask_smorest
import marshmallow as ma

from narrative.platform import errors


class ErrorDetailSchema(ma.Schema):
    field = ma.fields.String(allow_none=True)
    message = ma.fields.String()
    location = ma.fields.String()


class ErrorSchema(ma.Schema):
    """The one error body (documentation only: `errors.error_response` writes it)."""

    error = ma.fields.String(metadata={"description": "Machine-readable code, e.g. validation_failed"})
    message = ma.fields.String(metadata={"description": "What went wrong, for people"})
    detail = ma.fields.String(
        metadata={"description": "Same text as message (SDK and studio clients read it)"}
    )
    request_id = ma.fields.String(metadata={"description": "Identifies the request in our logs"})
    details = ma.fields.List(
        ma.fields.Nested(ErrorDetailSchema), metadata={"description": "Validation errors"}
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


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *, spec_kwargs=None):
        super().init_app(app, spec_kwargs=spec_kwargs)
        for name, scheme in SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)

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
