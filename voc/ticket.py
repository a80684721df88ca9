"""The canonical ticket: the one shape every source is mapped onto, and its validation.

Validation happens here, at the boundary, so a bad row is quarantined with a reason that names
the offending field and value instead of failing somewhere deep in the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from voc.errors import RowError
from voc.fields import as_text, check_text

# The intents that are evidence of a defect: a complaint, and a question about it ("漏水怎么办?").
# A theme's and a safety cell's counts, their series and their quotes all take these two.
EVIDENCE_INTENTS: tuple[str, ...] = ("complaint", "question")
# The intents the topic stage groups into topics (praise gets none).
TOPIC_INTENTS: tuple[str, ...] = ("complaint", "question", "suggestion")

CANONICAL_FIELDS: tuple[str, ...] = (
    "ticket_id",
    "created_at",
    "closed_at",
    "channel",
    "product",
    "model",
    "batch",
    "subject",
    "body",
    "resolution",
    "status",
    "agent",
    "customer_region",
    "csat",
    "reopened",
    "transfers",
    "language",
    "intent_hint",
)
TEXT_FIELDS = (
    "channel",
    "product",
    "model",
    "batch",
    "subject",
    "resolution",
    "status",
    "agent",
    "customer_region",
    "language",
    "intent_hint",
)
_TRUE = {"1", "true", "yes", "y", "t", "是", "已重开", "重开"}
_FALSE = {"0", "false", "no", "n", "f", "否", ""}
_INT_MAX = 2**31 - 1  # an Integer column on PostgreSQL


@dataclass(frozen=True, slots=True)
class Ticket:
    """A closed ticket in canonical form. Timestamps are naive UTC."""

    source: str
    ticket_id: str
    created_at: datetime | None
    closed_at: datetime | None
    body: str
    channel: str | None = None
    product: str | None = None
    model: str | None = None
    batch: str | None = None
    subject: str | None = None
    resolution: str | None = None
    status: str | None = None
    agent: str | None = None
    customer_region: str | None = None
    csat: float | None = None
    reopened: bool | None = None
    transfers: int | None = None
    language: str | None = None
    intent_hint: str | None = None

    @property
    def event_at(self) -> datetime:
        """When the ticket counts: closed time, else created time (one is always present)."""
        return self.closed_at or self.created_at  # type: ignore[return-value]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_blank(v: Any) -> bool:
    """None, NaN, or a string of only whitespace."""
    if v is None:
        return True
    if v.__class__ is str:
        return not v or v.isspace()
    return isinstance(v, float) and v != v


_YMD = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


@lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


# A number is told apart by its digits (Python 3.11's fromisoformat would read 1631081162000 as the
# basic-format date 1631-08-11). Digits of an epoch's whole part -> its units per second: seconds (10
# digits from 2001-09-09 to 2286), milliseconds (13: 七鱼/Qiyu, Java / JavaScript), microseconds (16)
_EPOCH_UNITS = {9: 1, 10: 1, 12: 1_000, 13: 1_000, 15: 1_000_000, 16: 1_000_000}
_FIRST_YEAR = 2000


def parse_datetime(value: Any, field: str, tz: str = "UTC", formats: tuple[str, ...] = ()) -> datetime | None:
    """Parse ISO / "2021/8/21 17:30" / "2021年8月21日" / epoch values; naive ones are in ``tz``.

    ``formats`` (a mapping's ``date_formats``, strptime patterns) are tried first on text. A number, or
    text of digits only, is read by its size: 8 digits YYYYMMDD, 14 YYYYMMDDHHMMSS, 10 epoch seconds,
    13 epoch milliseconds, 16 microseconds; a year before 2000 or after next year from a number is
    refused (it is a number of the wrong unit, not a date). The result is naive UTC. Unparseable
    text raises RowError naming the field and value.
    """
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, datetime.min.time())
    else:  # text (the common case: ISO with an offset), or a number such as an epoch
        text = value.strip() if value.__class__ is str else str(value).strip()
        parsed = _by_formats(text, formats) if formats and value.__class__ is str else None
        if parsed is not None:
            dt = parsed
        elif text.isdigit() or (text.count(".") == 1 and text.replace(".", "").isdigit()):
            dt = _from_number(text, value, field)
        else:
            if text.endswith("Z"):
                text = text[:-1] + "+00:00"
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                dt = _parse_other(text, value, field)
    try:
        off = dt.utcoffset()
        if off is None:
            return dt.replace(tzinfo=_zone(tz)).astimezone(UTC).replace(tzinfo=None)
        return dt.replace(tzinfo=None) - off
    except OverflowError:  # e.g. 0001-01-01 east of UTC: before the first representable time
        raise RowError(f"{field}: out of range: {str(value)[:60]!r}") from None


def _by_formats(text: str, formats: tuple[str, ...]) -> datetime | None:
    for f in formats:
        try:
            return datetime.strptime(text, f)
        except ValueError:
            continue
    return None


def _from_number(text: str, value: Any, field: str) -> datetime:
    """A date from digits (see ``parse_datetime``): a compact date, or an epoch by its magnitude."""
    whole, _, frac = text.partition(".")
    digits = len(whole.lstrip("0") or "0")
    shown = str(value)[:60]
    try:
        if digits == 8 and not frac:
            dt = datetime.strptime(whole, "%Y%m%d")
        elif digits == 14 and not frac:
            dt = datetime.strptime(whole, "%Y%m%d%H%M%S")
        elif digits in _EPOCH_UNITS:
            unit = _EPOCH_UNITS[digits]
            seconds, rest = divmod(int(whole), unit)
            micro = round((rest + float(f"0.{frac or 0}")) * 1_000_000 / unit)
            dt = datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=micro)
        else:
            raise RowError(
                f"{field}: epoch {shown!r} is neither seconds (10 digits) nor milliseconds (13): not a "
                f"date/time (a number of {digits} digits)"
            )
    except (ValueError, OverflowError, OSError):
        raise RowError(f"{field}: not a date/time: {shown!r}") from None
    last = datetime.now(UTC).year + 1
    if not _FIRST_YEAR <= dt.year <= last:
        what = "epoch " if digits in _EPOCH_UNITS else ""
        raise RowError(
            f"{field}: {what}{shown!r} reads as the year {dt.year}, outside {_FIRST_YEAR}-{last} (epoch "
            "seconds have 10 digits, milliseconds 13): not taken as a date"
        )
    return dt


def _parse_other(text: str, value: Any, field: str) -> datetime:
    m = _YMD.match(text)
    try:
        if m:
            return datetime(*(int(g) for g in m.groups() if g is not None))  # type: ignore[arg-type]
        raise ValueError(text)
    except (ValueError, OverflowError):
        raise RowError(f"{field}: not a date/time: {str(value)[:60]!r}") from None


def _parse_float(value: Any, field: str) -> float | None:
    if is_blank(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RowError(f"{field}: not a number: {str(value)[:60]!r}") from None


def _parse_int(value: Any, field: str) -> int | None:
    f = _parse_float(value, field)
    if f is None:
        return None
    if not f.is_integer() or f < 0:  # also NaN and infinity
        raise RowError(f"{field}: not a non-negative whole number: {str(value)[:60]!r}")
    if f > _INT_MAX:
        raise RowError(f"{field}: {str(value)[:60]!r} is over the limit of {_INT_MAX}")
    return int(f)


def _parse_bool(value: Any, field: str) -> bool | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return None if text == "" else False
    raise RowError(f"{field}: not a yes/no value: {str(value)[:60]!r}")


def _text(v: Any, field: str) -> str | None:
    """A short text field: stripped, None when blank, checked against the field's rules."""
    if v.__class__ is not str:
        if is_blank(v):
            return None
        v = as_text(v, field)
    t = v.strip()  # strip() removes exactly what isspace() calls blank
    return check_text(t, field) if t else None


def _free_text(v: Any, field: str, limit: int) -> str | None:
    if v.__class__ is not str:
        if is_blank(v):
            return None
        v = as_text(v, field)
    t = v.strip()
    return check_text(t, field, limit) if t else None


def parse_ticket(
    row: Mapping[str, Any],
    source: str,
    *,
    max_body_chars: int = 100_000,
    tz: str = "UTC",
    date_formats: tuple[str, ...] = (),
) -> Ticket:
    """Validate one canonical row (already mapped) into a Ticket, or raise RowError. ``tz`` and
    ``date_formats``: the mapping's, for the two timestamps (``parse_datetime``)."""
    get = row.get
    tid = get("ticket_id")
    if is_blank(tid):
        raise RowError("ticket_id: missing")
    tid = check_text(as_text(tid, "ticket_id").strip(), "ticket_id")
    if not tid:
        raise RowError("ticket_id: missing")
    body = get("body")
    if is_blank(body):
        raise RowError("body: missing or empty")
    body = as_text(body, "body")
    if "\ufffd" in body:
        raise RowError("body: contains undecodable bytes (wrong encoding?)")
    check_text(body, "body", max_body_chars)
    created = parse_datetime(get("created_at"), "created_at", tz, date_formats)
    closed = parse_datetime(get("closed_at"), "closed_at", tz, date_formats)
    if created is None and closed is None:
        raise RowError("closed_at/created_at: both missing")
    csat = _parse_float(get("csat"), "csat")
    if csat is not None and not 0 <= csat <= 10:
        raise RowError(f"csat: out of range 0..10: {csat}")
    return Ticket(
        source,
        tid,
        created,
        closed,
        body,
        _text(get("channel"), "channel"),
        _text(get("product"), "product"),
        _text(get("model"), "model"),
        _text(get("batch"), "batch"),
        _free_text(get("subject"), "subject", max_body_chars),
        _free_text(get("resolution"), "resolution", max_body_chars),
        _text(get("status"), "status"),
        _text(get("agent"), "agent"),
        _text(get("customer_region"), "customer_region"),
        csat,
        _parse_bool(get("reopened"), "reopened"),
        _parse_int(get("transfers"), "transfers"),
        _text(get("language"), "language"),
        _text(get("intent_hint"), "intent_hint"),
    )
