"""Tables of the AI layer.

- `AiCall` (table "ai_calls"): one row per provider call (the AI log): who, which provider and
  model, tokens, cost, latency, outcome.
- `AiChunk` (table "ai_chunks"): retrieval chunks of a workspace's data with their embeddings
  (a JSON list of floats: portable across SQLite and PostgreSQL).
"""

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, UTCDateTime, utcnow
from narrative.platform.tenancy import WorkspaceScoped


class AiCall(WorkspaceScoped, IdMixin, db.Model):
    __tablename__ = "ai_calls"
    __display_name__ = "AI call"
    __table_args__ = (sa.Index("ix_ai_calls_workspace_created", "workspace_id", "created_at"),)

    workspace_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    provider: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    model: Mapped[str | None] = mapped_column(sa.String(120))
    function: Mapped[str] = mapped_column(sa.String(60), nullable=False)  # chat, embeddings, underwriting...
    operation: Mapped[str] = mapped_column(
        sa.String(30), nullable=False
    )  # chat|stream|embed|image|vision|transcribe
    tokens_in: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    tokens_out: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    cost: Mapped[Decimal] = mapped_column(sa.Numeric(14, 6), nullable=False, default=Decimal("0"))
    latency_ms: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)  # success | error | cancelled
    error: Mapped[str | None] = mapped_column(sa.Text)
    conversation_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    @property
    def total_tokens(self):
        return (self.tokens_in or 0) + (self.tokens_out or 0)


class AiChunk(WorkspaceScoped, IdMixin, db.Model):
    __tablename__ = "ai_chunks"
    __table_args__ = (sa.Index("ix_ai_chunks_source", "workspace_id", "source_type", "source_id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False, index=True)
    source_type: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    source_id: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    title: Mapped[str | None] = mapped_column(sa.String(500))
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    embedder: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    embedding: Mapped[list] = mapped_column(JSONType, nullable=False)
    chunk_metadata: Mapped[dict | None] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
