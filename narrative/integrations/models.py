"""A workspace member's connection to an outside service (a bank aggregator, later mail, calendar,
CRM...): one generic row per connection, whatever the provider.

- `provider` names the adapter ("saltedge", "statement", "demo"); `integration_type` the kind of
  data it brings ("bank", later "email", "calendar"...), which is what lists filter on.
- `status`: pending (a connect flow was started), connected, error (`last_error` says why),
  disconnected.
- `config` holds plain settings a client may see (the provider's customer id, options);
  `credentials` holds secrets, encrypted with narrative.platform.crypto (never returned).
"""

import json
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.crypto import decrypt_text, encrypt_text
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime
from narrative.platform.tenancy import WorkspaceScoped

PENDING = "pending"
CONNECTED = "connected"
ERROR = "error"
DISCONNECTED = "disconnected"
STATUSES = (PENDING, CONNECTED, ERROR, DISCONNECTED)

BANK = "bank"

CREDENTIALS_PURPOSE = "narrative.integrations.credentials"


class Integration(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "integrations"
    __display_name__ = "Integration"
    __table_args__ = (
        sa.Index("ix_integrations_workspace_user_type", "workspace_id", "user_id", "integration_type"),
        sa.Index("ix_integrations_provider_external", "provider", "external_id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    provider: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    integration_type: Mapped[str] = mapped_column(sa.String(40), nullable=False, default=BANK)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=PENDING)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    # The provider's id for this connection (SaltEdge's customer id), for callbacks to find the row.
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    config: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    # Fernet token of a JSON object; read and written through `secrets` / `set_secrets`.
    credentials: Mapped[str | None] = mapped_column(sa.Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    def secrets(self):
        return json.loads(decrypt_text(CREDENTIALS_PURPOSE, self.credentials)) if self.credentials else {}

    def set_secrets(self, values):
        self.credentials = encrypt_text(CREDENTIALS_PURPOSE, json.dumps(values)) if values else None
