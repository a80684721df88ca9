"""Hand-built Brief / Review / Alert objects for the rendering tests (no database involved).

Covers: a safety surge listed *after* a higher-ratio defect surge in the input (the renderer must
put safety first), batch concentration, Chinese text, hostile quotes (``<script>``, ``| pipes |``,
Markdown link/heading syntax), an overdue action, a failed alert send, and fully empty sections.
"""

from __future__ import annotations

from datetime import date

from voc.reports.model import (
    ActionEffect,
    ActionItem,
    Alert,
    BatchShare,
    Brief,
    DeliveryProblem,
    Kpi,
    MethodNote,
    Quote,
    Review,
    SurgeItem,
    TeamKpis,
    TopicItem,
)

SCRIPT = "<script>alert(1)</script>"
PIPES = "| pipes |"

_TEXT = {
    "zh": {
        "brand": "示例家电",
        "fryer": "云朵空气炸锅 Pro",
        "brush": "轻享电动牙刷 S2",
        "screen": "屏幕闪烁",
        "hot": "充电时外壳发烫",
        "defect_expl": "批次 B2409 的屏幕闪烁投诉是预期的 5 倍以上，集中在 AF-300 型号。",
        "safety_expl": "S2-Max 充电发烫的投诉本周首次明显超出预期，属于安全类问题。",
        "global_rise": "受双11大促影响，本周工单总量较上周上升 15%，各话题的预期值已按总量调整。",
        "workaround": "指导客户重启并升级固件至 2.1.4；仍闪烁则换新。",
        "note_a": "排查 B2409 屏幕排线供应商",
        "note_b": "充电器温控固件回滚",
        "note_c": "更新包装内的清洁说明",
    },
    "en": {
        "brand": "Example Appliances",
        "fryer": "Cloud Air Fryer Pro",
        "brush": "Lite Electric Toothbrush S2",
        "screen": "Screen flicker",
        "hot": "Casing hot while charging",
        "defect_expl": "Screen-flicker complaints from batch B2409 are over 5 times the expected level, "
        "concentrated on model AF-300.",
        "safety_expl": "S2-Max charging-heat complaints clearly exceed expectations for the first time; "
        "this is a safety issue.",
        "global_rise": "Total ticket volume rose 15% over last week because of the Singles' Day sale; "
        "expected counts were adjusted for it.",
        "workaround": "Ask the customer to restart and update firmware to 2.1.4; replace if it still "
        "flickers.",
        "note_a": "Check the B2409 display-cable supplier",
        "note_b": "Roll back the charger thermal firmware",
        "note_c": "Update the cleaning leaflet in the box",
    },
}

HISTORY_DEFECT = (3, 4, 2, 5, 3, 4, 4, 3, 5, 6, 14, 23)
HISTORY_SAFETY = (1, 2, 1, 0, 2, 1, 3, 2, 1, 2, 3, 9)


def _actions(lang: str) -> tuple[ActionItem, ...]:
    x = _TEXT[lang]
    return (
        ActionItem(
            action_id=31,
            topic_id=12,
            topic_label=x["screen"],
            product=x["fryer"],
            batch="B2409",
            owner="王工（质量部）",
            status="doing",
            due=date(2026, 11, 20),
            fix_date=None,
            days_open=12,
            note=x["note_a"],
        ),
        ActionItem(
            action_id=27,
            topic_id=7,
            topic_label=x["hot"],
            product=x["brush"],
            batch=None,
            owner="Li Na",
            status="open",
            due=date(2026, 12, 4),
            fix_date=None,
            days_open=1,
            note=x["note_b"],
        ),
        ActionItem(
            action_id=19,
            topic_id=9,
            topic_label="滤网异味",
            product=None,
            batch=None,
            owner="陈静",
            status="done",
            due=date(2026, 10, 30),
            fix_date=date(2026, 10, 28),
            days_open=40,
            note=x["note_c"],
        ),
    )


def surges(lang: str) -> tuple[SurgeItem, SurgeItem]:
    """(defect surge with higher ratio and batch concentration, safety surge) — in that order."""
    x = _TEXT[lang]
    defect = SurgeItem(
        topic_id=12,
        topic_label=x["screen"],
        level="topic×product×batch",
        product=x["fryer"],
        model="AF-300",
        batch="B2409",
        severity="defect",
        observed=23,
        expected=4.4,
        ratio=5.2,
        ratio_lo=3.3,
        ratio_hi=7.9,
        q_value=0.0004,
        wow_change=0.64,
        since_week="2026-W46",
        methods=("baseline", "cusum"),
        is_new_topic=False,
        concentration=BatchShare(batch="B2409", share=0.8, expected_share=0.2, ratio=3.9),
        history=HISTORY_DEFECT,
        quotes=(
            Quote(text=f"屏幕一直闪 {SCRIPT} 根本没法看", language="zh"),
            Quote(text=f"显示屏闪烁 {PIPES} 换了插座也一样", language="zh"),
            Quote(text="# 标题 **加粗** [点这里](javascript:alert(1)) `code`", language="zh"),
            Quote(text="第四条不应显示", language="zh"),
        ),
        workaround=x["workaround"],
        owner="王工（质量部）",
        action=_actions(lang)[0],
        explanation=x["defect_expl"],
    )
    safety = SurgeItem(
        topic_id=7,
        topic_label=x["hot"],
        level="topic×product×model",
        product=x["brush"],
        model="S2-Max",
        batch=None,
        severity="safety",
        observed=9,
        expected=3.7,
        ratio=2.4,
        ratio_lo=1.3,
        ratio_hi=4.6,
        q_value=0.012,
        wow_change=None,
        since_week="2026-W47",
        methods=("baseline", "seasonal"),
        is_new_topic=True,
        concentration=None,
        history=HISTORY_SAFETY,
        quotes=(
            Quote(text="充电十分钟后手柄很烫，不敢再用了", language="zh"),
            Quote(text="The handle got too hot to hold while charging.", language="en"),
        ),
        workaround=None,
        owner=None,
        action=None,
        explanation=x["safety_expl"],
    )
    return defect, safety


def kpis() -> tuple[Kpi, ...]:
    return (
        Kpi("tickets", 12345, 10735, (9800, 10100, 9900, None, 10400, 10735, 12345)),
        Kpi("complaints", 2345, 2100, (1900, 2000, 1950, 2050, 2010, 2100, 2345)),
        Kpi("fcr_rate", 0.712, 0.735, (0.74, 0.73, 0.75, 0.74, 0.735, 0.712), is_rate=True),
        Kpi("closed_24h", 0.64, 0.61, (0.6, 0.62, 0.61, 0.64), is_rate=True),
        Kpi("closed_48h", 0.86, 0.86, (0.85, 0.86, 0.86), is_rate=True),
        Kpi("reopen_rate", 0.041, 0.035, (0.03, 0.035, 0.041), is_rate=True),
        Kpi("transfer_rate", 0.12, None, (), is_rate=True),
    )


def brief(lang: str = "zh") -> Brief:
    x = _TEXT[lang]
    defect, safety = surges(lang)
    return Brief(
        week="2026-W47",
        week_start=date(2026, 11, 16),
        week_end=date(2026, 11, 22),
        generated_on=date(2026, 11, 23),
        brand=x["brand"],
        kpis=kpis(),
        global_rise=x["global_rise"],
        surges=(defect, safety),  # deliberately NOT safety-first: the renderer must reorder
        emerging=(
            TopicItem(
                41,
                "App 无法绑定设备",
                "complaint",
                11,
                0,
                ("绑定", "配网", "WiFi"),
                (Quote("扫码后一直提示配网失败", "zh"),),
                (0, 0, 0, 1, 2, 11),
            ),
        ),
        opportunities=(
            TopicItem(
                52,
                "希望增加定时预约功能",
                "suggestion",
                17,
                12,
                ("预约", "定时", "早餐"),
                (Quote("要是能晚上预约早上自动做好就好了", "zh"), Quote(f"建议加个预约 {SCRIPT}", "zh")),
            ),
            TopicItem(
                53,
                "Larger basket option",
                "suggestion",
                6,
                5,
                ("basket", "family size"),
                (Quote("A 6-litre basket would fit a family of four.", "en"),),
            ),
        ),
        resolved=(TopicItem(9, "滤网异味", "complaint", 3, 14, ("异味", "滤网"), (), (15, 16, 14, 9, 5, 3)),),
        top_topics=(
            TopicItem(12, x["screen"], "complaint", 23, 14, ("闪烁", "屏幕", "B2409"), (), HISTORY_DEFECT),
            TopicItem(3, "物流延迟", "complaint", 19, 21, ("快递", "延迟"), (Quote("等了一周还没到", "zh"),)),
            TopicItem(7, x["hot"], "complaint", 9, 3, ("发烫", "充电"), (), HISTORY_SAFETY),
            TopicItem(60, f"配件缺失 {PIPES}", "complaint", 6, 0, ("<b>刷头</b>", "缺件"), ()),
        ),
        actions=_actions(lang),
        delivery_problems=(DeliveryProblem("email", "li.na@example.com", "SMTP 550 mailbox unavailable"),),
        method=MethodNote(baseline_weeks=8, min_count=5, fdr_q=0.05, min_ratio=1.5),
    )


def empty_brief(lang: str = "en") -> Brief:
    x = _TEXT[lang]
    return Brief(
        week="2026-W01",
        week_start=date(2025, 12, 29),
        week_end=date(2026, 1, 4),
        generated_on=date(2026, 1, 5),
        brand=x["brand"],
        kpis=(),
        global_rise=None,
        surges=(),
        emerging=(),
        opportunities=(),
        resolved=(),
        top_topics=(),
        actions=(),
        delivery_problems=(),
        method=MethodNote(baseline_weeks=8, min_count=5, fdr_q=0.05, min_ratio=1.5),
    )


REVIEW_WEEKS = tuple(f"2026-W{w:02d}" for w in range(35, 48))


def review(lang: str = "zh") -> Review:
    x = _TEXT[lang]
    a = _actions(lang)
    fixed = ActionItem(
        action_id=19,
        topic_id=9,
        topic_label="滤网异味",
        product=None,
        batch=None,
        owner="陈静",
        status="done",
        due=date(2026, 10, 30),
        fix_date=date(2026, 10, 28),
        days_open=40,
        note=x["note_c"],
    )
    return Review(
        quarter="2026-Q4",
        weeks=REVIEW_WEEKS,
        generated_on=date(2026, 11, 23),
        brand=x["brand"],
        totals=(9800, 10100, 9900, 10200, 10050, 9950, 10400, 10300, 10600, 10500, 10735, 11800, 12345),
        complaints=(1900, 2000, 1950, 2010, 1980, 1990, 2050, 2030, 2080, 2060, 2100, 2200, 2345),
        top_topics=(
            TopicItem(
                3,
                "物流延迟",
                "complaint",
                251,
                0,
                ("快递", "延迟"),
                (Quote("等了一周还没到", "zh"),),
                (20, 18, 22, 19, 21, 17, 20, 19, 18, 21, 22, 21, 19),
            ),
            TopicItem(
                12,
                x["screen"],
                "complaint",
                96,
                0,
                ("闪烁", "屏幕"),
                (Quote(SCRIPT, "zh"),),
                (3, 4, 2, 5, 3, 4, 4, 3, 5, 6, 14, 20, 23),
            ),
        ),
        effects=(
            ActionEffect(
                fixed,
                weeks=4,
                rate_before=1.42,
                rate_after=0.31,
                change_lo=0.12,
                change_hi=0.55,
                ratio=0.22,
                verdict="worked",
            ),
            ActionEffect(
                a[0],
                weeks=2,
                rate_before=0.9,
                rate_after=1.1,
                change_lo=0.6,
                change_hi=2.0,
                ratio=1.2,
                verdict="too_early",
            ),
            ActionEffect(
                a[1],
                weeks=6,
                rate_before=0.5,
                rate_after=0.52,
                change_lo=0.7,
                change_hi=1.5,
                ratio=1.04,
                verdict="no_clear_change",
            ),
        ),
        emerging=(
            TopicItem(
                41,
                "App 无法绑定设备",
                "complaint",
                14,
                0,
                ("绑定", "配网"),
                (Quote(f"配网失败 {PIPES}", "zh"),),
                (0, 0, 0, 1, 2, 11),
            ),
        ),
        kpis=kpis(),
        teams=(
            TeamKpis(
                team="售后一组",
                tickets=4210,
                kpis=(
                    Kpi(key="fcr_rate", value=0.62, previous=0.60, history=(0.58, 0.60, 0.62), is_rate=True),
                    Kpi(
                        key="closed_24h", value=0.71, previous=0.69, history=(0.70, 0.69, 0.71), is_rate=True
                    ),
                    Kpi(
                        key="reopen_rate", value=0.05, previous=0.06, history=(0.07, 0.06, 0.05), is_rate=True
                    ),
                    Kpi(
                        key="transfer_rate",
                        value=0.30,
                        previous=None,
                        history=(None, None, 0.30),
                        is_rate=True,
                    ),
                ),
            ),
            TeamKpis(
                team="English desk",
                tickets=980,
                kpis=(
                    Kpi(key="fcr_rate", value=None, previous=None, history=(None, None, None), is_rate=True),
                    Kpi(key="closed_24h", value=0.5, previous=0.4, history=(0.3, 0.4, 0.5), is_rate=True),
                    Kpi(key="reopen_rate", value=0.0, previous=0.1, history=(0.1, 0.1, 0.0), is_rate=True),
                    Kpi(key="transfer_rate", value=0.2, previous=0.2, history=(0.2, 0.2, 0.2), is_rate=True),
                ),
            ),
        ),
    )


def empty_review(lang: str = "en") -> Review:
    return Review(
        quarter="2026-Q1",
        weeks=(),
        generated_on=date(2026, 4, 6),
        brand="",
        totals=(),
        complaints=(),
        top_topics=(),
        effects=(),
        emerging=(),
        kpis=(),
    )


def alert(lang: str = "zh") -> Alert:
    """One safety surge, with a link to the brief."""
    _, safety = surges(lang)
    return Alert(
        owner="Li Na",
        language=lang,
        channel="email",
        recipient="li.na@example.com",
        week="2026-W47",
        kind="start",
        surges=(safety,),
        brief_link="https://wiki.example.com/voc/2026-W47.zh.html",
    )


def digest(lang: str = "en") -> Alert:
    """Two surges (defect first in the input), hostile quotes, a link with characters to encode."""
    defect, safety = surges(lang)
    return Alert(
        owner="王工（质量部）",
        language=lang,
        channel="wecom",
        recipient="wanggong",
        week="2026-W47",
        kind="escalation",
        surges=(defect, safety),
        brief_link="https://wiki.example.com/voc/brief (2026-W47).html?lang=en&v=1",
    )
