"""The alert lifecycle as a state machine over plain values (delivery/lifecycle.py): no database, no sending.

Each test plays runs of the alert stage against a fake ``alerts`` table (a dict of ``Record`` values
updated the way ``flows.alert_stage.send`` claims and records rows) and checks what each run would say.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from typing import Any

import pytest

from voc.config.settings import VocConfig
from voc.delivery.lifecycle import (
    Digest,
    Flagged,
    Record,
    in_quiet_hours,
    parse_key,
    plan_digests,
    tracks_from,
)
from voc.reports.model import SurgeItem
from voc.weeks import Week

W = Week.parse("2026-W47").ordinal()
OVEN, KETTLE, SAFETY = "wang.lei@hearth.example", "liu.yang@hearth.example", "quality@hearth.example"
CLAIMABLE = ("failed", "deferred", "superseded")  # store.alert_log: rows a later run may take over


def config(**alerts: Any) -> VocConfig:
    return VocConfig.model_validate(
        {
            "products": [
                {"id": "oven", "name_zh": "烤箱", "name_en": "Oven", "owner": "王磊"},
                {"id": "kettle", "name_zh": "电水壶", "name_en": "Kettle", "owner": "刘洋"},
            ],
            "owners": [
                {"name": "王磊", "email": OVEN},
                {"name": "刘洋", "email": KETTLE},
                {"name": "质量安全组", "email": SAFETY},
            ],
            "alerts": {
                "safety_list": ["质量安全组"],
                "escalation_factor": 1.5,
                "timezone": "Asia/Shanghai",
                "quiet_hours": {"start": "22:00", "end": "08:00"},
                **alerts,
            },
        }
    )


def item(
    ident: str = "7|oven",
    product: str = "oven",
    observed: int = 20,
    expected: float = 4.0,
    severity: str = "defect",
    topic_id: int = 7,
) -> SurgeItem:
    nan = float("nan")
    return SurgeItem(
        topic_id=topic_id,
        topic_label="门关不紧",
        level="topic×product",
        product=product,
        model=None,
        batch=None,
        severity=severity,
        observed=observed,
        expected=expected,
        ratio=observed / expected,
        ratio_lo=nan,
        ratio_hi=nan,
        q_value=1e-4,
        wow_change=None,
        since_week="2026-W47",
        methods=("poisson",),
        is_new_topic=False,
        concentration=None,
        history=(),
        quotes=(),
        workaround=None,
        owner=None,
        action=None,
        explanation="",
        product_id=product,
        surge_identity=ident,
    )


class Store:
    """The ``alerts`` table and the surges flagged per week, as the alert stage would load them."""

    def __init__(self, cfg: VocConfig) -> None:
        self.cfg = cfg
        self.rows: dict[
            tuple[str, str, str], Record
        ] = {}  # (key, channel, recipient), in insertion (id) order
        self.flagged: dict[int, dict[str, Flagged]] = {}

    def flag(self, w: int, *items: SurgeItem) -> None:
        week = self.flagged.setdefault(w, {})
        for i in items:
            week[i.surge_identity] = Flagged(i.product_id, i.severity, i.observed)
        for (
            i
        ) in items:  # as alert_stage reads the surges table: an item's product safety cell is also s|product
            if i.severity == "safety" and i.product_id:
                week.setdefault(f"s|{i.product_id}", Flagged(i.product_id, i.severity, i.observed))

    def run(
        self,
        w: int,
        *items: SurgeItem,
        quiet: bool = False,
        detected: bool = True,
        only_safety: bool = False,
        record: bool = True,
    ) -> list[Digest]:
        """One run for week ``w`` whose brief shows ``items`` (flagged that week); what it sends is recorded."""
        self.flag(w, *items)
        digests = plan_digests(
            self.cfg,
            tracks_from(self.rows.values()),
            {i.surge_identity: i for i in items},
            lambda week: self.flagged.get(week, {}),
            w,
            quiet=quiet,
            detected=detected,
            only_safety=only_safety,
        )
        if record:
            self.record(digests)
        return digests

    def record(self, digests: list[Digest]) -> None:
        for d in digests:
            status = "deferred" if d.deferred else "sent"
            tg = d.target
            for e in d.entries:
                old = self.rows.get((e.key, tg.channel, tg.recipient))
                if old is None or old.status in CLAIMABLE:
                    self.rows[(e.key, tg.channel, tg.recipient)] = Record(
                        e.key, tg.channel, tg.recipient, tg.owner, status, e.week, e.ratio
                    )
            if status == "sent":
                for k, r in self.rows.items():
                    if (
                        r.dedupe_key in d.supersedes
                        and (r.channel, r.recipient) == (tg.channel, tg.recipient)
                        and r.status == "deferred"
                    ):
                        self.rows[k] = replace(r, status="superseded")


def said(digests: list[Digest]) -> list[tuple[str, str, bool, tuple[str, ...]]]:
    """(recipient, kind, deferred, dedupe keys) per message."""
    return [(d.target.recipient, d.kind, d.deferred, tuple(e.key for e in d.entries)) for d in digests]


def test_first_message_about_a_surge_is_a_start() -> None:
    s = Store(config())
    assert said(s.run(W, item())) == [(OVEN, "start", False, (f"7|oven|w{W}|start",))]
    assert parse_key(f"7|oven|w{W}|start") == ("7|oven", W, "start")


def test_same_run_again_says_nothing() -> None:
    s = Store(config())
    s.run(W, item())
    assert s.run(W, item()) == []


def test_still_flagged_next_week_without_growing_by_the_factor_says_nothing() -> None:
    s = Store(config())
    s.run(W, item(observed=20, expected=4.0))  # 5×
    assert s.run(W + 1, item(observed=24, expected=4.5)) == []  # 5.3× < 7.5×, 24 < 30


def test_ratio_grown_by_the_factor_is_an_escalation_then_quiet_until_it_grows_again() -> None:
    s = Store(config())
    s.run(W, item(observed=20, expected=4.0))  # 5×
    assert said(s.run(W + 1, item(observed=24, expected=3.2))) == [  # 7.5× = 5 × 1.5 (24 < 20 × 1.5 tickets)
        (OVEN, "escalation", False, (f"7|oven|w{W}|esc{W + 1}",))
    ]
    assert (
        s.run(W + 2, item(observed=28, expected=2.8)) == []
    )  # 10× < 7.5 × 1.5: measured from the last message


def test_count_grown_by_the_factor_is_an_escalation_even_when_the_ratio_is_not() -> None:
    s = Store(config())
    s.run(W, item(observed=20, expected=4.0))
    assert said(s.run(W + 1, item(observed=30, expected=6.0))) == [  # 5×, but 30 = 20 × 1.5 tickets
        (OVEN, "escalation", False, (f"7|oven|w{W}|esc{W + 1}",))
    ]


def test_becoming_a_safety_issue_is_an_escalation_and_starts_for_the_safety_list() -> None:
    s = Store(config())
    s.run(W, item())
    assert said(s.run(W + 1, item(severity="safety"))) == [  # same numbers, now safety
        (OVEN, "escalation", False, (f"7|oven|w{W}|esc{W + 1}",)),
        (SAFETY, "start", False, (f"7|oven|w{W + 1}|start",)),
    ]


def test_no_longer_flagged_after_being_told_is_one_resolved_note_never_repeated() -> None:
    s = Store(config())
    s.run(W, item())
    assert s.run(W + 1, detected=False) == []  # detection did not run: "not flagged" means nothing
    assert said(s.run(W + 1)) == [(OVEN, "resolved", False, (f"7|oven|w{W}|resolved",))]
    assert s.run(W + 1) == []  # the same week again
    assert s.run(W + 2) == [] and s.run(W + 3) == []


def test_resolved_note_comes_from_the_week_it_was_last_flagged() -> None:
    s = Store(config())
    s.run(W, item())
    [d] = s.run(W + 1)
    [e] = d.entries
    assert (e.kind, e.flagged_week, e.week, e.item) == ("resolved", W, W + 1, "")


def test_a_surge_back_after_it_resolved_is_a_new_episode() -> None:
    s = Store(config())
    s.run(W, item())
    s.run(W + 1)  # resolved
    assert said(s.run(W + 2, item())) == [(OVEN, "start", False, (f"7|oven|w{W + 2}|start",))]


def test_quiet_hours_defer_non_safety_but_not_safety_and_the_deferred_go_out_next_run() -> None:
    s = Store(config())
    first = s.run(W, item(), item("9|kettle", "kettle", severity="safety", topic_id=9), quiet=True)
    assert said(first) == [
        (OVEN, "start", True, (f"7|oven|w{W}|start",)),
        (KETTLE, "start", False, (f"9|kettle|w{W}|start",)),
        (SAFETY, "start", False, (f"9|kettle|w{W}|start",)),
    ]
    assert said(s.run(W, item(), item("9|kettle", "kettle", severity="safety", topic_id=9))) == [
        (OVEN, "start", False, (f"7|oven|w{W}|start",))
    ]  # the same key, now sent; the safety ones not again


def test_a_deferred_start_no_longer_flagged_goes_out_late_rather_than_being_lost() -> None:
    s = Store(config())
    s.run(W, item(), quiet=True)
    assert said(s.run(W + 1)) == [(OVEN, "start", False, (f"7|oven|w{W}|start",))]


@pytest.mark.parametrize(
    ("at", "quiet"),
    [
        (time(23, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
        (time(22, 0), True),
    ],
)
def test_quiet_hours_span_midnight_in_the_alerts_timezone(at: time, quiet: bool) -> None:
    assert in_quiet_hours(config(), datetime.combine(datetime(2026, 11, 23), at)) is quiet
    assert in_quiet_hours(config(quiet_hours=None), datetime.combine(datetime(2026, 11, 23), at)) is False


def test_a_products_safety_surge_continues_across_items() -> None:
    """The daily safety check tells ``s|kettle``; the weekly brief carries the same tickets as a theme
    item: one surge, one episode — no second start, no resolved note for ``s|kettle`` meanwhile."""
    s = Store(config())
    check = item("s|kettle", "kettle", observed=8, expected=2.0, severity="safety", topic_id=0)
    assert said(s.run(W, check, only_safety=True)) == [
        (KETTLE, "start", False, (f"s|kettle|w{W}|start",)),
        (SAFETY, "start", False, (f"s|kettle|w{W}|start",)),
    ]
    theme = item(
        "h3", "kettle", observed=10, expected=0.5, severity="safety", topic_id=0
    )  # 20×: another cell
    assert s.run(W, theme) == []  # its ratio says nothing about s|kettle's; 10 < 8 × 1.5 tickets
    assert said(s.run(W + 1, replace(theme, observed=12))) == [  # 12 = 8 × 1.5: escalates the same episode
        (KETTLE, "escalation", False, (f"s|kettle|w{W}|esc{W + 1}",)),
        (SAFETY, "escalation", False, (f"s|kettle|w{W}|esc{W + 1}",)),
    ]
    assert [e.item for d in s.run(W + 2, replace(theme, observed=30), record=False) for e in d.entries] == [
        "h3",
        "h3",
    ]  # the message shows this week's item


def test_the_safety_check_continues_an_episode_the_weekly_brief_started_under_a_theme() -> None:
    s = Store(config())
    s.run(W, item("h3", "kettle", observed=10, expected=0.5, severity="safety", topic_id=0))
    assert (
        s.run(
            W + 1,
            item("s|kettle", "kettle", observed=12, expected=3.0, severity="safety", topic_id=0),
            only_safety=True,
        )
        == []
    )  # 12 < 10 × 1.5


def test_the_safety_check_says_nothing_about_non_safety_surges_and_sends_no_resolved_notes() -> None:
    s = Store(config())
    s.run(W, item())
    assert s.run(W + 1, item("8|oven", observed=40), only_safety=True) == []
