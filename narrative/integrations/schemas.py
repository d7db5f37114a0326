"""Payloads of the integrations endpoints: the SDK family reads camelCase (data_key)."""

import marshmallow as ma

from narrative.platform.pagination import CursorPageArgs
from narrative.platform.schemas import Schema


class IntegrationSchema(Schema):
    id = ma.fields.UUID()
    provider = ma.fields.String()
    integration_type = ma.fields.String(data_key="integrationType")
    status = ma.fields.String(metadata={"description": "connected | pending | error | disconnected"})
    name = ma.fields.String()
    external_id = ma.fields.String(data_key="externalId", allow_none=True)
    last_synced_at = ma.fields.DateTime(data_key="lastSyncedAt", allow_none=True)
    last_error = ma.fields.String(data_key="lastError", allow_none=True)
    created_at = ma.fields.DateTime(data_key="createdAt")
    updated_at = ma.fields.DateTime(data_key="updatedAt")


class IntegrationListArgs(CursorPageArgs):
    integration_type = ma.fields.String(
        load_default=None, metadata={"description": "Only integrations of this type, e.g. bank"}
    )


class SaltEdgeConnectSchema(Schema):
    return_to = ma.fields.URL(
        data_key="returnTo",
        load_default=None,
        require_tld=False,
        metadata={"description": "Where SaltEdge Connect sends the user back (default: SALTEDGE_RETURN_URL)"},
    )


class SaltEdgeConnectResultSchema(Schema):
    connect_url = ma.fields.String(metadata={"description": "Open this SaltEdge Connect page to link a bank"})
    expires_at = ma.fields.String(data_key="expiresAt", allow_none=True)
    integration_id = ma.fields.UUID(data_key="integrationId")
    status = ma.fields.String()
