"""JSON logs: one object per line, with the request id and whatever fields the caller adds.

Callers pass structured fields as `log.info("...", extra={"fields": {...}})`.
"""

import json
import logging
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level="INFO"):
    """Route every logger through one JSON handler on stderr (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(h, "narrative_json", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.narrative_json = True
        root.addHandler(handler)
    root.setLevel(level)
    # Werkzeug's own access lines would duplicate ours.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
