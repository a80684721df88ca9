"""ISO weeks and quarters as small values ("2026-W47", "2026-Q4")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from voc.errors import WeekError

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Week:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> Week:
        m = _WEEK.match(text.strip())
        if not m:
            raise WeekError(f"not an ISO week: {text!r} (expected e.g. 2026-W47)")
        year, wk = int(m.group(1)), int(m.group(2))
        try:
            date.fromisocalendar(year, wk, 1)
        except ValueError as e:
            raise WeekError(f"week {wk} does not exist in {year}: {text!r}") from e
        return cls(year, wk)

    @classmethod
    def of(cls, d: date | datetime) -> Week:
        y, w, _ = d.isocalendar()
        return cls(y, w)

    @classmethod
    def latest_complete(cls, today: date | None = None) -> Week:
        """The last ISO week that has fully ended before ``today``."""
        today = today or datetime.now(UTC).date()
        return cls.of(today - timedelta(days=7))

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def end(self) -> date:
        """Exclusive end (next Monday)."""
        return self.start + timedelta(days=7)

    def start_dt(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time())

    def end_dt(self) -> datetime:
        return datetime.combine(self.end, datetime.min.time())

    def shift(self, weeks: int) -> Week:
        return Week.of(self.start + timedelta(weeks=weeks))

    def ordinal(self) -> int:
        """Monotone integer (weeks since 0001-01-01's ISO week), handy as a period index."""
        return self.start.toordinal() // 7

    @classmethod
    def from_ordinal(cls, n: int) -> Week:
        return cls.of(date.fromordinal(n * 7 + 1))

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    q: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        m = _QUARTER.match(text.strip())
        if not m:
            raise WeekError(f"not a quarter: {text!r} (expected e.g. 2026-Q4)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, d: date) -> Quarter:
        return cls(d.year, (d.month - 1) // 3 + 1)

    def weeks(self) -> list[Week]:
        """ISO weeks whose Thursday falls in the quarter (13 or 14 of them)."""
        start = date(self.year, 3 * self.q - 2, 1)
        end = date(self.year + (self.q == 4), (3 * self.q) % 12 + 1, 1)
        w = Week.of(start)
        out = []
        while w.start < end:
            thursday = w.start + timedelta(days=3)
            if start <= thursday < end:
                out.append(w)
            w = w.shift(1)
        return out

    def __str__(self) -> str:
        return f"{self.year}-Q{self.q}"
