"""What a stored ticket field may hold: type, length, characters, no personal data in codes.

The rules are checked before the database (so SQLite and PostgreSQL accept exactly the same rows):
a value that breaks one raises RowError naming the field and what is wrong, never echoing more
than a short, escaped prefix of the value. Column lengths are defined here (``LENGTHS``, one source of
truth: the tickets table's columns are declared from it); a NUL character is rejected everywhere (PostgreSQL cannot store it in text), as is a lone
surrogate (neither database can store it); identifiers and short fields also reject other control
characters (they would silently make a different product, batch or id). Personal data in a code
field is the ingest's check (``sources.prepare``): finding it takes the redactor, above the kernel.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from voc.errors import RowError

# the longest value each short canonical text field may hold (the tickets table's String(n) columns
# are declared from these; ticket_id is stored as source_id)
LENGTHS: dict[str, int] = {
    "ticket_id": 200,
    "channel": 100,
    "product": 200,
    "model": 200,
    "batch": 100,
    "status": 50,
    "agent": 200,
    "customer_region": 200,
    "language": 20,
    "intent_hint": 20,
}
# free text: line breaks, tabs and other controls are ordinary content there
FREE_TEXT = ("subject", "body", "resolution")
# fields that become report cells (product x batch ...): a phone or e-mail there is personal data
# (checked at ingest, sources/prepare.py). The other short text columns are stored as given and feed no
# brief, alert, review or export: customer_region and status are never read back; language and
# intent_hint are only used when they are one of a closed set of codes (nlp/understanding.py); agent is
# only a key into `teams:`, the review shows the configured team name or the channel
# (reports/review.team_kpis). An agent is a staff member's name or address by nature, so checking it
# would quarantine ordinary tickets. tests/test_hardening_weekly.py plants personal data in agent,
# customer_region and status and checks that no output shows it.
CODE_FIELDS = ("channel", "product", "model", "batch")

_BAD_ANYWHERE = re.compile("[\x00\ud800-\udfff]")
_BAD_SHORT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_ID = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


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
        limit = LENGTHS.get(field)
    if limit is not None and len(text) > limit:
        raise RowError(f"{field}: {len(text)} characters, over the limit of {limit}")
    rx = _BAD_ANYWHERE if field in FREE_TEXT else _BAD_ID if field == "ticket_id" else _BAD_SHORT
    m = rx.search(text)
    if m:
        raise RowError(f"{field}: contains {_describe(m.group())} at position {m.start() + 1}")
    return text
