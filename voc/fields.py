"""What a stored ticket field may hold: type, length, characters, no personal data in codes.

The rules are checked before the database (so SQLite and PostgreSQL accept exactly the same rows):
a value that breaks one raises RowError naming the field and what is wrong, never echoing more
than a short, escaped prefix of the value. Column lengths come from the table model (one source of
truth); a NUL character is rejected everywhere (PostgreSQL cannot store it in text), as is a lone
surrogate (neither database can store it); identifiers and short fields also reject other control
characters (they would silently make a different product, batch or id).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from voc.errors import RowError

# canonical field -> tickets column (the id is stored as source_id)
_COLUMN = {"ticket_id": "source_id"}
# free text: line breaks, tabs and other controls are ordinary content there
FREE_TEXT = ("subject", "body", "resolution")
# fields that become report cells (product x batch ...): a phone or e-mail there is personal data.
# The other short text columns are stored as given and feed no brief, alert, review or export:
# customer_region and status are never read back; language and intent_hint are only used when they
# are one of a closed set of codes (nlp/understanding.py); agent is only a key into `teams:`, the
# review shows the configured team name or the channel (reports/review.team_kpis). An agent is a
# staff member's name or address by nature, so checking it would quarantine ordinary tickets.
# tests/test_hardening_weekly.py plants personal data in agent, customer_region and status and checks
# that no output shows it.
CODE_FIELDS = ("channel", "product", "model", "batch")
# redactor placeholders that mean personal data; [ORDER] is a bare long digit run, which is how
# SKU and batch codes look (a JD product id is 12 digits), so it does not count
_PERSONAL = re.compile(r"\[(PHONE|EMAIL|ID|CARD|ADDRESS|NAME)\]")

_BAD_ANYWHERE = re.compile("[\x00\ud800-\udfff]")
_BAD_SHORT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_ID = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@lru_cache(maxsize=1)
def column_limits() -> dict[str, int]:
    """Maximum length of each canonical text field, from the tickets table's String(n) columns."""
    from voc.store.models import TicketRow
    from voc.ticket import CANONICAL_FIELDS

    cols = TicketRow.__table__.c
    out: dict[str, int] = {}
    for f in CANONICAL_FIELDS:
        col = cols.get(_COLUMN.get(f, f))
        length = getattr(col.type, "length", None) if col is not None else None
        if length:
            out[f] = int(length)
    return out


def _describe(ch: str) -> str:
    names = {"\x00": "NUL", "\t": "tab", "\n": "line break", "\r": "carriage return", "\x1b": "ESC"}
    if "\ud800" <= ch <= "\udfff":
        return f"an invalid character (lone surrogate U+{ord(ch):04X})"
    name = names.get(ch)
    return f"control character U+{ord(ch):04X}" + (f" ({name})" if name else "")


def as_text(value: Any, field: str) -> str:
    """A scalar cell as text; containers and undecodable bytes are not text (a JSON object as the
    body would otherwise be stored as a Python repr)."""
    if value.__class__ is str:
        return value
    if isinstance(value, dict):
        raise RowError(f"{field}: a JSON object, not text")
    if isinstance(value, list | tuple | set):
        raise RowError(f"{field}: a list of {len(value)} value(s), not text")
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise RowError(f"{field}: binary value that is not UTF-8 text") from None
    if isinstance(value, str | int | float | Decimal | datetime | date):
        return str(value)
    raise RowError(f"{field}: a {type(value).__name__}, not text")


def check_text(text: str, field: str, limit: int | None = None) -> str:
    """``text`` if it may be stored in ``field``, else RowError naming the field and the problem."""
    if limit is None:
        limit = column_limits().get(field)
    if limit is not None and len(text) > limit:
        raise RowError(f"{field}: {len(text)} characters, over the limit of {limit}")
    rx = _BAD_ANYWHERE if field in FREE_TEXT else _BAD_ID if field == "ticket_id" else _BAD_SHORT
    m = rx.search(text)
    if m:
        raise RowError(f"{field}: contains {_describe(m.group())} at position {m.start() + 1}")
    if field in CODE_FIELDS:
        kind = personal_data(text)
        if kind:
            raise RowError(f"{field}: looks like personal data ({kind}), not a {field} value")
    return text


@lru_cache(maxsize=1)
def _redactor() -> Any:
    from voc.nlp.redact import Redactor

    return Redactor()


@lru_cache(maxsize=1 << 16)  # code fields repeat: a handful of products, channels and batches
def personal_data(text: str) -> str | None:
    """The kind of personal data the redactor finds in ``text`` (phone, email, ...), or None."""
    m = _PERSONAL.search(_redactor().redact(text)[0])
    return m.group(1).lower() if m else None
