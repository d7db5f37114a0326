"""Integrations: the generic rows, SaltEdge's connect flow and callbacks, syncs and statement imports.

Routes call these keyword-only functions; the long work runs in narrative.integrations.jobs.
"""

import json
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request

from narrative.extensions import db
from narrative.integrations import saltedge
from narrative.integrations.models import BANK, CONNECTED, DISCONNECTED, ERROR, PENDING, Integration
from narrative.platform.errors import BadRequest, Conflict, NotFound, Unauthorized, ValidationFailed
from narrative.platform.jobs import enqueue_job, get_job
from narrative.platform.models import utcnow
from narrative.platform.storage import store_file
from narrative.platform.tenancy import all_workspaces, get_or_404, workspace_scope

SYNC_KIND = "integrations.saltedge-sync"
IMPORT_KIND = "integrations.statement-import"
JOB_KINDS = (SYNC_KIND, IMPORT_KIND)
STATEMENT_TYPES = {"text/*", "application/xml", "application/json"}
STATEMENT_MAX_BYTES = 20 * 1024 * 1024
STATEMENT_PURPOSE = "integrations.statement"
# How far back a new SaltEdge connection fetches.
HISTORY_DAYS = 365

PROVIDER_NAMES = {"saltedge": "SaltEdge bank connection", "statement": "Bank statements", "demo": "Demo bank"}


# ---- the rows -------------------------------------------------------------------------------------


def integrations_query(*, user_id, integration_type=None):
    """The member's integrations (of the current workspace: the session scopes the query)."""
    stmt = sa.select(Integration).where(Integration.user_id == user_id)
    if integration_type:
        stmt = stmt.where(Integration.integration_type == integration_type)
    return stmt


def get_or_create_integration(
    *, workspace_id, user_id, provider, integration_type=BANK, status=PENDING, name=None
):
    """The member's integration with `provider` (one per member and provider), created when missing."""
    integration = db.session.scalar(
        integrations_query(user_id=user_id, integration_type=integration_type)
        .where(Integration.provider == provider)
        .order_by(Integration.created_at)
        .limit(1)
    )
    if integration is None:
        integration = Integration(
            workspace_id=workspace_id,
            user_id=user_id,
            provider=provider,
            integration_type=integration_type,
            status=status,
            name=name or PROVIDER_NAMES.get(provider, provider.title()),
            config={},
        )
        db.session.add(integration)
        db.session.flush()
    return integration


def member_integration_or_404(integration_id, *, user_id):
    """The path's integration, when it is the member's own (another member's is 404 too)."""
    integration = get_or_404(Integration, integration_id, message="Integration not found.")
    if integration.user_id != user_id:
        raise NotFound("Integration not found.")
    return integration


# ---- SaltEdge -------------------------------------------------------------------------------------


def customer_identifier(workspace_id, user_id):
    """Our stable name for the member at SaltEdge (one SaltEdge customer per member and workspace)."""
    return f"narrative:{workspace_id}:{user_id}"


def start_saltedge_connect(*, workspace_id, user_id, return_to=None, client=None):
    """Create the SaltEdge customer when needed and a connect session; the integration waits (pending).

    Returns (integration, session) where session holds SaltEdge's `connect_url` and `expires_at`.
    """
    client = client or saltedge.SaltEdgeClient.from_settings()
    integration = get_or_create_integration(workspace_id=workspace_id, user_id=user_id, provider="saltedge")
    customer_id = integration.external_id
    if not customer_id:
        customer_id = client.create_customer(customer_identifier(workspace_id, user_id))
        integration.external_id = customer_id
        integration.config = {**(integration.config or {}), "customer_id": customer_id}
    session = client.create_connect_session(
        customer_id=customer_id,
        return_to=return_to
        or saltedge.setting("SALTEDGE_RETURN_URL")
        or current_app.config.get("PUBLIC_APP_URL"),
        from_date=(utcnow() - timedelta(days=HISTORY_DAYS)).date(),
    )
    if integration.status != CONNECTED:
        integration.status = PENDING
    integration.last_error = None
    db.session.flush()
    return integration, session


def callback_urls():
    """The URLs SaltEdge may have signed this callback for: configured, public base, as received."""
    urls = [saltedge.setting("SALTEDGE_CALLBACK_URL")]
    public = current_app.config.get("PUBLIC_APP_URL")
    if public:
        urls.append(public.rstrip("/") + request.path)
    urls.append(request.base_url)
    return [url for url in urls if url]


def verify_saltedge_callback(body):
    """401 unless the request carries SaltEdge's valid signature; 503 while no public key is set."""
    pem = saltedge.public_key_pem()
    if not pem:
        from narrative.platform.errors import ProviderNotConfigured

        raise ProviderNotConfigured(
            "SaltEdge callbacks cannot be verified: set SALTEDGE_PUBLIC_KEY (SaltEdge's public key, PEM).",
            extra={"provider": "saltedge", "settings": ["SALTEDGE_PUBLIC_KEY"]},
        )
    signature = request.headers.get("Signature")
    if not saltedge.verify_signature(signature=signature, urls=callback_urls(), body=body, pem=pem):
        raise Unauthorized(
            "The SaltEdge signature of this callback is missing or invalid.", code="invalid_signature"
        )


def handle_saltedge_callback(kind, body):
    """Act on a verified callback. Returns the sync job it started, or None.

    success (stage "finish", or no stage) and notify at "finish": sync the connection;
    fail: the integration is in error with SaltEdge's message; destroy: the connection is gone.
    """
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise BadRequest("The callback body is not JSON.") from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or not data.get("customer_id"):
        raise BadRequest("The callback carries no data.customer_id.")
    # A signed callback has no caller: SaltEdge's customer id names the integration, and so the
    # workspace, which is only known after this lookup.
    with all_workspaces():
        integration = db.session.scalar(
            sa.select(Integration).where(
                Integration.provider == "saltedge", Integration.external_id == str(data["customer_id"])
            )
        )
    if integration is None:
        # Not ours (another environment sharing the SaltEdge app): acknowledged, nothing to do.
        return None
    with workspace_scope(integration.workspace_id):
        return _act_on_callback(kind, data, integration)


def _act_on_callback(kind, data, integration):
    connection_id = data.get("connection_id")
    stage = data.get("stage")
    if kind == "fail":
        integration.status = ERROR
        integration.last_error = str(
            data.get("error_message") or data.get("error_class") or "SaltEdge connection failed"
        )
        return None
    if kind == "destroy":
        from narrative.banking.models import BankConnection

        db.session.execute(
            sa.update(BankConnection)
            .where(
                BankConnection.integration_id == integration.id,
                BankConnection.external_id == str(connection_id),
            )
            .values(status="removed")
        )
        return None
    if kind in ("success", "notify") and stage in (None, "finish"):
        return start_sync(integration, connection_id=str(connection_id) if connection_id else None)
    return None


def start_sync(integration, *, connection_id=None):
    """Queue a sync of the integration's bank data (all its SaltEdge connections, or one)."""
    if integration.provider != "saltedge":
        raise Conflict(
            f"A {integration.provider} integration has nothing to sync; import a statement instead."
        )
    if integration.status == DISCONNECTED:
        raise Conflict("This integration is disconnected; connect it again first.")
    saltedge.require_configured()
    if not integration.external_id:
        raise Conflict(
            "This SaltEdge integration has no customer yet; start with POST /api/integrations/saltedge/connect."
        )
    return enqueue_job(
        SYNC_KIND,
        "narrative.integrations.jobs.sync_saltedge",
        str(integration.id),
        connection_id,
        workspace_id=integration.workspace_id,
        user_id=integration.user_id,
        timeout=1800,
        description=f"SaltEdge sync of integration {integration.id}",
    )


# ---- statements -----------------------------------------------------------------------------------


def parse_mapping(raw):
    if raw in (None, ""):
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        mapping = json.loads(raw)
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict):
        raise ValidationFailed(details=[{"field": "mapping", "message": "A JSON object of column names."}])
    return mapping


def start_statement_import(
    *,
    workspace_id,
    user_id,
    upload,
    mapping=None,
    account_name=None,
    currency=None,
    balance=None,
    file_format=None,
):
    """Store the uploaded statement and queue its import; returns the job."""
    if upload is None or not getattr(upload, "filename", None):
        raise ValidationFailed(details=[{"field": "file", "message": "Attach the statement file."}])
    if file_format not in (None, "", "csv", "ofx"):
        raise ValidationFailed(details=[{"field": "format", "message": "csv or ofx."}])
    if currency and (len(currency) != 3 or not currency.isalpha()):
        raise ValidationFailed(details=[{"field": "currency", "message": "A 3-letter currency code."}])
    if balance not in (None, ""):
        from narrative.banking.service import money

        try:
            balance = str(money(balance))
        except ValueError:
            raise ValidationFailed(details=[{"field": "balance", "message": "Not an amount."}]) from None
    stored = store_file(
        workspace_id=workspace_id,
        data=upload,
        filename=upload.filename,
        max_bytes=STATEMENT_MAX_BYTES,
        allowed_types=STATEMENT_TYPES,
        owner_id=user_id,
        purpose=STATEMENT_PURPOSE,
    )
    integration = get_or_create_integration(
        workspace_id=workspace_id, user_id=user_id, provider="statement", status=CONNECTED
    )
    options = {
        "mapping": parse_mapping(mapping),
        "account_name": (account_name or "").strip() or None,
        "currency": currency.upper() if currency else None,
        "balance": balance or None,
        "format": file_format or None,
    }
    return enqueue_job(
        IMPORT_KIND,
        "narrative.integrations.jobs.import_statement",
        str(stored.id),
        str(integration.id),
        options,
        workspace_id=workspace_id,
        user_id=user_id,
        timeout=900,
        description=f"Statement import {stored.filename}",
    )


def integration_job(job_id, *, user_id):
    job = get_job(job_id)
    if job.kind not in JOB_KINDS or job.user_id != user_id:
        raise NotFound("Job not found.")
    return job


def started(job):
    """What a route answers for a queued job (snake_case and the SDK's camelCase)."""
    stream_url = f"/api/integrations/jobs/{job.id}/stream"
    return {
        "job_id": job.id,
        "jobId": job.id,
        "status": job.status,
        "kind": job.kind,
        "stream_url": stream_url,
        "streamUrl": stream_url,
    }
