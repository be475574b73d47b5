"""Publication dates with their precision: ISO 8601 ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.

A date known only to the month stays a month: we never invent a day.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_ISO = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:[T ][0-9:.+\-Z]*)?$")


@dataclass(frozen=True, order=True)
class PartialDate:
    """A calendar date that may be known only to the year or the month."""

    year: int
    month: int | None = None
    day: int | None = None

    @classmethod
    def parse(cls, value: str) -> "PartialDate":
        """Parse ISO 8601 (``2013``, ``2013-01``, ``2013-01-23``, or a timestamp whose date
        part is kept). Raises ``ValueError`` with a short reason."""
        m = _ISO.match(value.strip())
        if not m:
            raise ValueError(f"{value!r} is not an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)")
        year = int(m.group(1))
        month = int(m.group(2)) if m.group(2) else None
        day = int(m.group(3)) if m.group(3) else None
        try:
            dt.date(year, month or 1, day or 1)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a real date ({exc})") from None
        return cls(year, month, day)

    def iso(self) -> str:
        """The ISO 8601 form at the precision we know."""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def human(self) -> str:
        """``23 January 2013``, ``January 2013`` or ``2013``."""
        if self.month is None:
            return str(self.year)
        name = calendar.month_name[self.month]
        if self.day is None:
            return f"{name} {self.year}"
        return f"{self.day} {name} {self.year}"

    def ordinal(self) -> float:
        """A number that orders dates; a partial date sits in the middle of its span."""
        start = dt.date(self.year, self.month or 1, self.day or 1).toordinal()
        if self.day is not None:
            return float(start)
        if self.month is not None:
            return start + 14.5
        return start + 182.0


def human_date(value: PartialDate | None) -> str:
    """How a date reads to people; ``date unknown`` when the corpus has none."""
    return value.human() if value is not None else "date unknown"
