"""Installation-wide settings of the organisation assistant, one JSON value per key.

The first-time setup writes the "setup" key; its primary key is what makes setup one-shot even
when two requests race (the second insert fails and is answered 409).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import JSONType, UTCDateTime, utcnow

SETUP = "setup"


class PlatformSetting(db.Model):
    __tablename__ = "platform_settings"

    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    value: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
