"""A finding (a money action or a growth opportunity) and its stable id.

The id is a hash of the finding's kind and subject (what it is about: a category and month, a
counterparty and amount...), so the same finding has the same id on every call and every asOfDate
that still shows it, and a status set on it (done, dismissed...) sticks.
"""

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

PRIORITY_RANK = {"high": 3, "medium": 2, "low": 1}
ID_PATTERN = r"^(act|opp)_[0-9a-f]{16}$"


def finding_id(prefix, kind, subject):
    digest = hashlib.sha256(f"{kind}|{subject}".encode()).hexdigest()[:16]
    return f"{prefix}_{digest}"


@dataclass(frozen=True)
class Finding:
    id: str
    kind: str
    subject: str
    title: str
    why: str
    impact: Decimal
    currency: str
    priority: str
    facts: dict = field(default_factory=dict)

    @classmethod
    def make(cls, prefix, kind, subject, **fields):
        return cls(id=finding_id(prefix, kind, subject), kind=kind, subject=subject, **fields)


def prioritised(found):
    """Highest priority first, then the largest monthly impact, then by id (a stable order)."""
    return sorted(found, key=lambda f: (-PRIORITY_RANK[f.priority], -f.impact, f.id))
