"""Integrations endpoints.

Catalog entries (OpenAPI, `blp`): `GET /api/integrations` (the SDK's and the assistant's list: one
endpoint) and `POST /api/integrations/saltedge/connect`. Beyond the catalog (`extra`, kept out of
the OpenAPI document whose operation ids are catalog ids): SaltEdge's signed callbacks, a manual
sync, statement imports, and their jobs with the progress stream.
"""

import flask
from flask import request

from narrative.identity.access import current_user, require
from narrative.integrations import service
from narrative.integrations.models import Integration
from narrative.integrations.schemas import (
    IntegrationListArgs,
    IntegrationSchema,
    SaltEdgeConnectResultSchema,
    SaltEdgeConnectSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.jobs import job_to_dict
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.sse import job_stream_response
from narrative.platform.tenancy import current_workspace_id

blp = Blueprint("integrations", __name__, description="Integrations: bank connections and statement imports")
extra = flask.Blueprint("integrations_extra", __name__)


def _member():
    return {"workspace_id": current_workspace_id(), "user_id": current_user().id}


@blp.route("/api/integrations")
@blp.operation("narrative-sdk.integrations.list", also=["assistant.integrations.list"])
@require("banking.read")
@blp.arguments(IntegrationListArgs, location="query")
@blp.response(200, page_schema(IntegrationSchema, "cursor", items_key="integrations"))
def list_integrations(args):
    """List user integrations"""
    stmt = service.integrations_query(
        user_id=current_user().id, integration_type=args.pop("integration_type")
    )
    return paginate(
        stmt,
        args,
        style="cursor",
        order_by=(Integration.created_at.desc(), Integration.id.desc()),
        items_key="integrations",
    )


@blp.route("/api/integrations/saltedge/connect", methods=["POST"])
@blp.operation("narrative-sdk.integrations.saltedge-connect")
@require("banking.write")
@blp.arguments(SaltEdgeConnectSchema)
@blp.response(200, SaltEdgeConnectResultSchema)
def saltedge_connect(payload):
    """Start SaltEdge connection flow"""
    integration, session = service.start_saltedge_connect(**_member(), return_to=payload.get("return_to"))
    return {
        "connect_url": session["connect_url"],
        "expires_at": session.get("expires_at"),
        "integration_id": integration.id,
        "status": integration.status,
    }


# ---- beyond the catalog ---------------------------------------------------------------------------


@extra.route("/api/integrations/saltedge/callback", methods=["POST"], defaults={"kind": "success"})
@extra.route("/api/integrations/saltedge/callback/<kind>", methods=["POST"])
@require(public=True)
def saltedge_callback(kind):
    """SaltEdge's callbacks (success, fail, notify, destroy), verified by their Signature header."""
    body = request.get_data(cache=True)
    service.verify_saltedge_callback(body)
    job = service.handle_saltedge_callback(kind, body)
    return {"ok": True, "job_id": job.id if job else None}


@extra.route("/api/integrations/<integration_id>/sync", methods=["POST"])
@require("banking.write")
def sync_integration(integration_id):
    """Sync an integration's bank data now (a job; progress at /api/integrations/jobs/{id}/stream)."""
    integration = service.member_integration_or_404(integration_id, user_id=current_user().id)
    job = service.start_sync(integration)
    return service.started(job), 202


@extra.route("/api/integrations/statements", methods=["POST"])
@require("banking.write")
def import_statement():
    """Import a bank statement: multipart `file` (CSV or OFX), `mapping` (JSON), `account_name`, `currency`."""
    form = request.form
    job = service.start_statement_import(
        **_member(),
        upload=request.files.get("file"),
        mapping=form.get("mapping"),
        account_name=form.get("account_name") or form.get("accountName"),
        currency=form.get("currency"),
        balance=form.get("balance"),
        file_format=(form.get("format") or "").lower() or None,
    )
    return service.started(job), 202


@extra.route("/api/integrations/jobs/<job_id>")
@require("banking.read")
def get_integration_job(job_id):
    """A sync or import job: status, progress, result or error."""
    return job_to_dict(service.integration_job(job_id, user_id=current_user().id))


@extra.route("/api/integrations/jobs/<job_id>/stream")
@require("banking.read")
def integration_job_stream(job_id):
    """Progress of a sync or import job as Server-Sent Events, closing when it ends."""
    job = service.integration_job(job_id, user_id=current_user().id)
    return job_stream_response(job, last_event_id=request.headers.get("Last-Event-ID"))
