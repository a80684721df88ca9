"""Links into the web workbench (``voc web``) from alerts and briefs: pure, from ``web.base_url``.

The paths are the workbench's own (``voc/web/app.py``): a week's brief ``/weeks/2026-W47`` and a
surge ``/weeks/2026-W47/surge?item=h8``, each with the reader's ``lang``. Without a base URL there
is no link: the message says the workbench is not configured (``alert.no_workbench``).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode


def week_url(base: str, week: str, lang: str) -> str:
    """The week's live brief in the workbench, in ``lang``."""
    return f"{base.rstrip('/')}/weeks/{quote(week, safe='')}?" + urlencode({"lang": lang})


def surge_url(base: str, week: str, identity: str, lang: str) -> str:
    """One surge item's workbench page (its series, batches, tickets), in ``lang``."""
    return f"{base.rstrip('/')}/weeks/{quote(week, safe='')}/surge?" + urlencode(
        {"item": identity, "lang": lang}
    )
