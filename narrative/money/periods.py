"""Dates of the money views: the asOfDate argument and calendar months.

"Monthly" everywhere in narrative.money means a *complete calendar month*: the last complete month
of an asOfDate is the month of asOfDate when asOfDate is that month's last day, and the month before
it otherwise (2026-11-23 -> October 2026; 2026-11-30 -> November 2026). Trailing averages are over
complete months too, so a figure never moves because the current month is half booked.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from narrative.platform.errors import BadRequest

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_as_of(raw):
    """The asOfDate query argument as a date; 400 with a clear message when missing or malformed."""
    example = "e.g. asOfDate=2026-10-31"
    if raw is None or not str(raw).strip():
        raise BadRequest(
            f"asOfDate is required: the date to compute as of, as YYYY-MM-DD ({example}).",
            details=[{"field": "asOfDate", "message": "Required.", "location": "query"}],
        )
    text = str(raw).strip()
    try:
        if not DATE_PATTERN.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"asOfDate must be a real calendar date as YYYY-MM-DD ({example}); got {text[:40]!r}.",
            details=[{"field": "asOfDate", "message": "Not a YYYY-MM-DD date.", "location": "query"}],
        ) from None


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, day):
        return cls(day.year, day.month)

    @property
    def start(self):
        return date(self.year, self.month, 1)

    @property
    def end(self):
        return self.shift(1).start - timedelta(days=1)

    def shift(self, months):
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def contains(self, day):
        return day.year == self.year and day.month == self.month

    @property
    def key(self):
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def name(self):
        return self.start.strftime("%B %Y")


def last_complete_month(as_of):
    """The latest calendar month that has ended on or before `as_of` (see the module docstring)."""
    month = Month.of(as_of)
    return month if as_of == month.end else month.shift(-1)


def months_back(last, count):
    """`count` months ending with `last`, oldest first."""
    return [last.shift(-offset) for offset in range(count - 1, -1, -1)]
