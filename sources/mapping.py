"""Named field mappings: from an export's own columns to the canonical ticket row."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from voc.config.settings import Mapping
from voc.errors import RowError
from voc.sources.files import BROKEN, UNDECODABLE
from voc.ticket import CANONICAL_FIELDS, is_blank

_CANON = set(CANONICAL_FIELDS)


def apply_mapping(raw: dict[str, Any], m: Mapping) -> dict[str, Any]:
    """Return a canonical row dict; raise RowError naming the problem for broken input."""
    if BROKEN in raw:
        raise RowError(str(raw[BROKEN]))
    if raw.get(UNDECODABLE):
        raise RowError("undecodable bytes in row (wrong encoding? set `encoding:` on the source)")
    if not m.model_fields_set:  # no mapping: the columns are already canonical (the common, fast case)
        return {k: v for k, v in raw.items() if k in _CANON}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if k.startswith("__"):
            continue
        target = m.rename.get(k, k)
        if target in _CANON and (target not in out or is_blank(out[target])):
            out[target] = v
    for field, value in m.constants.items():
        out.setdefault(field, value)
    if m.id_from and is_blank(out.get("ticket_id")):
        parts = [str(raw.get(c, "")) for c in m.id_from]
        if all(is_blank(p) for p in parts):
            raise RowError(f"ticket_id: missing and id_from columns {m.id_from} are empty")
        out["ticket_id"] = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]
    for field, spec in m.extract.items():
        if not is_blank(out.get(field)):
            continue
        col = spec.get("column", "")
        cell = raw.get(col)
        if is_blank(cell):
            continue
        match = re.search(spec["regex"], str(cell))
        if match:
            out[field] = match.group(1) if match.groups() else match.group(0)
        elif "default" in spec:
            out[field] = spec["default"]
    if m.status_map and not is_blank(out.get("status")):
        out["status"] = m.status_map.get(str(out["status"]).strip(), out["status"])
    if m.combine_subject and not is_blank(out.get("subject")):
        body = "" if is_blank(out.get("body")) else str(out["body"])
        out["body"] = f"{out['subject']}\n{body}".strip()
    if m.rating_column is not None and m.complaint_if_rating_le is not None:
        rating = raw.get(m.rating_column)
        if rating is not None and not is_blank(rating):
            try:
                r = float(rating)
            except (TypeError, ValueError):
                raise RowError(f"{m.rating_column}: not a number: {str(rating)[:40]!r}") from None
            if r <= m.complaint_if_rating_le:
                out["intent_hint"] = "complaint"
    return out
