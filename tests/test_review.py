"""Quarterly review arithmetic: team KPIs and the before/after verdict of an action."""

from __future__ import annotations

from types import SimpleNamespace as Row

import pytest

from voc.reports.review import action_effect, team_kpis, verdict


def _r(week, agent, channel, n, fcr, timed, h24, reopen, transfer):  # type: ignore[no-untyped-def]
    return Row(
        week=week,
        agent=agent,
        channel=channel,
        n=n,
        fcr=fcr,
        timed=timed,
        h24=h24,
        reopen=reopen,
        transfer=transfer,
    )


def test_team_kpis_group_agents_and_fall_back_to_channel() -> None:
    rows = [
        _r(1, "李娜", "电话", 10, 6, 10, 5, 1, 4),
        _r(1, "王芳", "电话", 10, 8, 5, 5, 0, 2),
        _r(2, "李娜", "电话", 20, 10, 20, 20, 2, 10),
        _r(2, None, "京东", 5, 5, 0, 0, 0, 0),
    ]
    teams = {t.team: t for t in team_kpis(rows, {"售后一组": ["李娜", "王芳"]}, [1, 2])}
    assert set(teams) == {"售后一组", "京东"}
    one = {k.key: k for k in teams["售后一组"].kpis}
    assert teams["售后一组"].tickets == 40
    assert one["fcr_rate"].history == (14 / 20, 10 / 20)
    assert one["closed_24h"].history == (10 / 15, 1.0)  # denominator: tickets with both timestamps
    assert one["transfer_rate"].value == 0.5 and one["transfer_rate"].previous == 0.3
    jd = {k.key: k for k in teams["京东"].kpis}
    assert jd["closed_24h"].history == (None, None)  # no timed tickets: unknown, not 0%


def test_action_effect_verdicts() -> None:
    ratio, lo, hi = action_effect(before=40, before_tickets=1000, after=8, after_tickets=1000)
    assert ratio == pytest.approx(8.5 / 40.5) and hi < 1 and verdict(lo, hi, 4) == "worked"
    ratio, lo, hi = action_effect(before=10, before_tickets=1000, after=11, after_tickets=1000)
    assert lo < 1 < hi and verdict(lo, hi, 4) == "no_clear_change"
    ratio, lo, hi = action_effect(before=5, before_tickets=1000, after=40, after_tickets=1000)
    assert lo > 1 and verdict(lo, hi, 4) == "got_worse"
    assert verdict(0.1, 0.5, 1) == "too_early"
