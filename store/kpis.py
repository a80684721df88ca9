"""The service KPIs: each one's definition per ticket (the one place they are written) and their weekly
sums, kept in ``weekly_kpis`` beside the weekly counts.

The brief and the review read a week's rates from those sums instead of scanning the weeks' tickets
(bench/web.py, 1M tickets on SQLite: the KPI scan of the brief's 12 weeks was 367 of the week page's
645 ms in process). The counts stage refreshes them with the counts (``store.analysis``), so they
follow the same tickets; a week never counted is summed from its tickets when read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, insert, select

from voc.store.binds import chunks
from voc.store.models import TicketRow, WeeklyKpi

T = TicketRow.__table__

TIMED = T.c.hours_to_close.is_not(None)  # has a close time: the base of the closed-within rates
FCR = and_(
    func.coalesce(T.c.reopened, False).is_(False), func.coalesce(T.c.transfers, 0) == 0
)  # first contact
CLOSED_24H = and_(TIMED, T.c.hours_to_close <= 24)
CLOSED_48H = and_(TIMED, T.c.hours_to_close <= 48)
REOPENED = func.coalesce(T.c.reopened, False).is_(True)
TRANSFERRED = func.coalesce(T.c.transfers, 0) > 0

SUMS = ("tickets", "complaints", "fcr", "timed", "closed_24h", "closed_48h", "reopened", "transferred")


def _n(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


def sums_select(tickets_in: Any) -> Any:
    """Per week of the tickets matching ``tickets_in``: week, then the SUMS columns."""
    return (
        select(
            T.c.week,
            func.count(),
            _n(T.c.intent == "complaint"),
            _n(FCR),
            _n(TIMED),
            _n(CLOSED_24H),
            _n(CLOSED_48H),
            _n(REOPENED),
            _n(TRANSFERRED),
        )
        .where(tickets_in)
        .group_by(T.c.week)
    )


def refresh(conn: Connection, tickets_in: Any, kpis_in: Any) -> None:
    """Recompute the sums of the weeks the two conditions select (the same weeks)."""
    conn.execute(delete(WeeklyKpi).where(kpis_in))
    conn.execute(insert(WeeklyKpi).from_select(["week", *SUMS], sums_select(tickets_in)))


def _rates(s: dict[str, Any]) -> dict[str, float | None]:
    def share(num: str, den: str = "tickets") -> float | None:
        return float(s[num]) / s[den] if s[den] else None

    return {
        "week": s["week"],
        "tickets": s["tickets"],
        "complaints": s["complaints"],
        "fcr_rate": share("fcr"),
        "closed_24h": share("closed_24h", "timed"),
        "closed_48h": share("closed_48h", "timed"),
        "reopen_rate": share("reopened"),
        "transfer_rate": share("transferred"),
    }


def kpi_rows(conn: Connection, from_week: int, until_week: int) -> dict[int, dict[str, float | None]]:
    """Per week: tickets, complaints and the service KPIs (rates in 0..1; None without a base)."""
    cols = [WeeklyKpi.week, *(getattr(WeeklyKpi, k) for k in SUMS)]
    kept = conn.execute(select(*cols).where(WeeklyKpi.week >= from_week, WeeklyKpi.week <= until_week))
    rows = list(kept)
    counted = {r[0] for r in rows}
    # the weeks without kept sums (none once the counts ran) are summed from their tickets: named one
    # by one, as "week NOT IN (the counted ones)" walked every ticket of the span instead (62 ms of the
    # week page's 383 on a 1M-ticket store, reading none)
    missing = [w for w in range(from_week, until_week + 1) if w not in counted]
    for chunk in chunks(missing):
        rows += conn.execute(sums_select(T.c.week.in_(chunk)))
    sums = {r[0]: dict(zip(("week", *SUMS), r, strict=True)) for r in rows}
    return {w: _rates(s) for w, s in sorted(sums.items())}
