"""Message catalogue and number/date formatting for the two report languages (zh-CN, en).

Everything here returns plain ``str``; the templates escape it (HTML autoescape, Markdown
neutralising). No locale module, no Babel: the two formats are simple and must not depend on
the machine's locale settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date as Date

LANGUAGES = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}

_ALIASES = {
    "zh": "zh",
    "zh-cn": "zh",
    "zh_cn": "zh",
    "zh-hans": "zh",
    "zh-hans-cn": "zh",
    "cn": "zh",
    "en": "en",
    "en-us": "en",
    "en_us": "en",
    "en-gb": "en",
    "en_gb": "en",
}


def normalize_lang(lang: str) -> str:
    """'zh', 'zh-CN', 'zh_CN', 'zh-Hans' -> 'zh'; 'en', 'en-US' -> 'en'; anything else raises."""
    key = (lang or "").strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unsupported report language {lang!r}; use one of {', '.join(LANGUAGES)}")
    return _ALIASES[key]


# --------------------------------------------------------------------------------------------
# Catalogue. Keys ending in _one/_other are picked by count (English plurals; zh uses _other).
# --------------------------------------------------------------------------------------------

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        # titles
        "brief.title": "客诉变商机 例会简报 · {week}",
        "brief.short_title": "客诉变商机 例会简报",
        "review.title": "客诉变商机 季度改进回顾 · {quarter}",
        "review.short_title": "客诉变商机 季度改进回顾",
        "generated_on": "生成于 {date}",
        "period": "统计周期：{range}",
        "review.period": "覆盖 {first} 至 {last}（{n} 周）",
        # sections
        "sec.summary": "本周概要",
        "sec.kpis": "核心指标",
        "sec.surges": "投诉激增",
        "sec.global_rise": "整体上升",
        "sec.emerging": "新出现的话题",
        "sec.opportunities": "商机：未被满足的需求",
        "sec.resolved": "行动后已回落的话题",
        "sec.actions": "行动项",
        "sec.delivery": "提醒发送失败",
        "sec.top_topics": "主要投诉话题",
        "sec.method": "方法说明",
        "sec.review_summary": "本季度概要",
        "sec.trend": "工单量与投诉量（{n}周）",
        "sec.themes": "主要话题",
        "sec.effects": "行动项效果",
        "sec.review_emerging": "本季度新出现的话题",
        "sec.kpi_trends": "指标趋势",
        "sec.team_kpis": "各团队服务指标",
        "empty.team_kpis": "本季度没有可按团队统计的工单。",
        "col.team": "团队",
        # empty sections
        "empty.surges": "本周无激增。",
        "empty.emerging": "本周无新话题。",
        "empty.opportunities": "本周无建议类话题。",
        "empty.resolved": "本周无在行动后回落的话题。",
        "empty.actions": "暂无行动项。",
        "empty.top_topics": "本周无投诉话题。",
        "empty.kpis": "本周无指标数据。",
        "empty.themes": "本季度无话题数据。",
        "empty.effects": "本季度无可评估的行动项。",
        "empty.review_emerging": "本季度无新话题。",
        "empty.review_kpis": "本季度无指标数据。",
        "rsum.no_data": "本季度没有工单数据。",
        # summary sentences
        "sum.no_surges": "本周无投诉激增。",
        "sum.surges_other": "本周 {n} 个投诉激增",
        "sum.surges_safety_other": "，其中 {s} 个安全类（{labels}）",
        "sum.surges_end": "。",
        "sum.complaints": "投诉量 {value}，较上周 {change}。",
        "sum.complaints_no_change": "投诉量 {value}。",
        "sum.global_rise": "整体工单量也在上升，见下文说明。",
        "sum.emerging_other": "新出现 {n} 个话题。",
        "sum.opportunities_other": "{n} 个建议类话题可作为改进商机。",
        "sum.actions_open_other": "{n} 个行动项未完成",
        "sum.actions_overdue_other": "，其中 {n} 个已逾期",
        "sum.delivery_other": "注意：{n} 条提醒发送失败，相关负责人可能尚未收到通知。",
        "rsum.volume": "本季度共 {tickets} 张工单，其中投诉 {complaints} 件（{share}）。",
        "rsum.complaints_trend": "最近一周投诉 {last} 件，季度首周 {first} 件（{change}）。",
        "rsum.effects_other": "评估了 {n} 个行动项：",
        "rsum.verdict_part": "{verdict} {n} 个",
        "rsum.no_effects": "本季度没有可评估的行动项。",
        "rsum.emerging_other": "本季度新出现 {n} 个话题。",
        "list_sep": "、",
        "part_sep": "，",
        "sentence_end": "。",
        "sentence_sep": "",
        # surge card
        "surge.observed_expected": "本周 {observed} 件，预期约 {expected} 件",
        "surge.ratio": "倍数 {ratio}",
        "surge.interval": "95%区间 {lo}–{hi}",
        "surge.interval_open": "95%区间 ≥ {lo}",
        "surge.q": "q 值 {q}",
        "surge.q_lt": "q 值 < {q}",
        "action.due": "截止 {date}",
        "sum.top_ratio": "涨幅最大的是“{label}”：{observed} 件，预期约 {expected} 件（{ratio}）。",
        "surge.wow": "较上周 {change}",
        "surge.wow_from_zero": "上周为 0",
        "surge.since": "自 {week} 起",
        "surge.product": "产品",
        "surge.model": "型号",
        "surge.batch": "批次",
        "surge.level": "层级",
        "surge.concentration": "{share} 来自批次 {batch}，而该批次只占该产品工单的 {expected}（{ratio}）",
        "surge.history": "近 {n} 周",
        "surge.quotes": "客户原话",
        "surge.workaround": "常用处理方式",
        "surge.fine_topics": "细分话题",
        "surge.no_workaround": "暂无",
        "surge.owner": "负责人",
        "surge.unassigned": "未指派",
        "surge.action": "行动项",
        "surge.no_action": "尚无行动项——请在会上指派",
        "surge.new_topic": "新话题",
        "surge.methods": "检测方法",
        "surge.what_rose": "上升内容",
        "surge.numbers": "数据",
        "surge.expected_legend": "虚线 = 预期水平",
        # tables
        "col.kpi": "指标",
        "col.value": "本周",
        "col.previous": "上周",
        "col.change": "变化",
        "col.trend": "趋势",
        "col.topic": "话题",
        "col.intent": "类型",
        "col.count": "数量",
        "col.keywords": "关键词",
        "col.example": "客户原话",
        "col.id": "编号",
        "col.owner": "负责人",
        "col.status": "状态",
        "col.due": "截止",
        "col.days_open": "已开",
        "col.note": "说明",
        "col.product_batch": "产品/批次",
        "col.channel": "渠道",
        "col.recipient": "接收人",
        "col.error": "错误",
        "col.now_before": "本周 / 上周",
        "col.action": "行动项",
        "col.fix_date": "整改日期",
        "col.rate_before": "整改前",
        "col.rate_after": "整改后",
        "col.ratio": "后/前 比值（95%区间）",
        "col.verdict": "结论",
        "col.weeks": "评估周数",
        "col.latest": "最近一周",
        "col.total": "合计",
        "days_other": "{n} 天",
        "overdue": "逾期",
        "none": "—",
        "rate_unit": "每千张工单的投诉数",
        "kpi_change_prev": "上周 {previous}",
        "legend.tickets": "工单量",
        "legend.complaints": "其中投诉",
        # method note
        "method.p1": "“激增”指某个话题（或话题×产品/型号/批次）本周的投诉数明显高于此前 {baseline_weeks} 周"
        "推算出的预期值。必须同时满足三个条件：本周至少 {min_count} 件；至少是预期值的 "
        "{min_ratio}；并且经过多重比较校正后的 q 值低于 {fdr_q}（即被标记的激增中，"
        "预计纯属偶然的不超过约 {fdr_pct}）。",
        "method.p2": "倍数 = 本周实际数 ÷ 预期数；95%区间表示这个倍数的可信范围，区间下限高于 1 说明上升不太可能"
        "是偶然波动。批次集中度把本周投诉中来自某批次的比例，与该批次在该产品全部工单中的比例"
        "相比较。安全类激增总是排在最前。",
        "method.p3": "客户原话已去除个人信息；数字均来自已结案工单。",
        "review.method.p1": "整改效果比较行动项整改日期前后各若干周的投诉率（{unit}）。后/前比值小于 1 表示投诉减少；"
        "括号内是该比值的 95%区间。",
        "review.method.p2": "结论：“有效”= 整个区间都低于 1；“变差”= 整个区间都高于 1；“无明显变化”= 区间跨过 1；"
        "“为时尚早”= 整改后的周数还不够判断。",
        # alerts
        "alert.kind.start": "投诉激增提醒",
        "alert.kind.escalation": "投诉激增升级",
        "alert.kind.resolved": "投诉激增已回落",
        "alert.safety_tag": "【安全】",
        "alert.digest_other": "{n} 个投诉激增",
        "alert.greeting": "{owner}，您好：",
        "alert.brief_link": "完整简报",
        "alert.surge_link": "工作台",
        "alert.no_workbench": "网页工作台未配置（web.base_url），本消息不附简报链接。",
        "alert.severity": "严重程度",
        "alert.footer": "本消息由客诉变商机流程自动发送。",
        "alert.no_surges": "本次没有需要提醒的激增。",
        # surge explanations: the sentence stored with each flagged cell (reports/explanations.py)
        "explain.cell_batch": "{label} 批次 {batch}",
        "explain.cell_product_safety": "{label} 安全问题",
        "explain.cell_all_safety": "全部产品安全问题",
        "explain.noun_complaints": "起投诉",
        "explain.noun_safety": "起安全类工单",
        "explain.rise": "{name}：{observed} {noun}，预期约 {expected} 起（{ratio}，{q}）",
        "explain.new": "{name}：新出现 {observed} {noun}，此前 {n} 期为零（{q}）",
        "explain.ratio_new": "new",
        "explain.q": "q={q}",
        "explain.q_lt": "q<{q}",
        "explain.q_na": "q=n/a",
        "explain.since": "；自 {when} 起持续上升",
        "explain.batch_share": "；{share} 来自批次 {batch}",
        "explain.batch_count": "；批次 {batch} 本周 {observed} 件，预期约 {expected} 件",
        "explain.units_rate": "；每万台 {rate} 起，预期 {expected} 起",
        "explain.units_rate_new": "；每万台 {rate} 起（在用 {units} 台）",
        "explain.window": "；近 {days} 天（截至 {month_day} {time} UTC）",
        "explain.global": "本周总工单量 {observed} 件, 约为常态 {expected} 件的 {ratio} 倍 "
        "(整体上升, 不计为单个主题激增)",
        # the web workbench: action items and operations pages (voc/web/actions.py, operations.py)
        "web.nav.actions": "行动项",
        "web.nav.operations": "运行状况",
        "web.actions.title": "行动项",
        "web.actions.new": "新建行动项",
        "web.actions.from_surge": "来自 {week} 的激增：",
        "web.actions.create": "从该激增创建行动项",
        "web.actions.empty": "还没有行动项。",
        "web.actions.add": "创建",
        "web.actions.save": "保存",
        "web.actions.created": "已创建行动项 #{id}。",
        "web.actions.invalid": "未保存：",
        "web.actions.effect": "整改效果",
        "web.actions.no_fix": "尚无整改日期",
        "web.actions.no_topic": "未关联话题，无法评估",
        "web.actions.effect_line": "每千张工单投诉 {before} → {after}，后/前 {ratio}（{lo}–{hi}），整改后 {weeks} 周",
        "web.field.topic_id": "话题编号",
        "web.field.product": "产品",
        "web.field.batch": "批次",
        "web.field.owner": "负责人",
        "web.field.due": "截止日期",
        "web.field.status": "状态",
        "web.field.fix_date": "整改日期",
        "web.field.note": "说明",
        "web.ops.title": "运行状况",
        "web.ops.ingest": "导入记录",
        "web.ops.quarantine": "隔离区（{n} 行待处理）",
        "web.ops.quarantine.empty": "隔离区为空。",
        "web.ops.quarantine.note": "只显示来源、位置与原因（已脱敏），不显示原始内容。",
        "web.ops.replay": "按当前配置重新校验并导入",
        "web.ops.replayed": "重新导入：{fixed} 行已入库，{still} 行仍在隔离区。",
        "web.ops.whole_file": "整个文件",
        "web.ops.alerts": "提醒发送",
        "web.ops.alert_problems": "失败或结果未知的发送",
        "web.ops.alerts.empty": "没有失败或结果未知的发送。",
        "web.ops.stages": "每周流程各阶段",
        "web.ops.empty": "暂无记录。",
        "web.ops.col.started": "开始",
        "web.ops.col.finished": "结束",
        "web.ops.col.source": "数据源",
        "web.ops.col.read": "读取",
        "web.ops.col.inserted": "新增",
        "web.ops.col.updated": "更新",
        "web.ops.col.unchanged": "未变",
        "web.ops.col.quarantined": "隔离",
        "web.ops.col.location": "位置",
        "web.ops.col.reason": "原因（已脱敏）",
        "web.ops.col.stage": "阶段",
        "web.ops.col.summary": "摘要",
        "web.ops.col.kind": "类型",
        "web.ops.col.attempts": "尝试次数",
        "web.ops.status.sent": "已发送",
        "web.ops.status.failed": "失败",
        "web.ops.status.unknown": "结果未知",
        "web.ops.status.pending": "发送中",
        "web.ops.status.deferred": "延后",
        "web.ops.status.superseded": "已被替代",
        # the web workbench (voc/web): page chrome; everything about the data reuses the keys above
        "web.title": "客诉变商机 工作台",
        "web.nav.weeks": "全部周次",
        "web.switch_lang": "English",
        "web.role.viewer": "只读（查看者）",
        "web.role.editor": "编辑者",
        "web.nav.topics": "话题目录",
        "web.topics.title": "话题目录",
        "web.topics.size": "工单数",
        "web.topics.weeks": "近 {n} 周",
        "web.topics.quote": "原话（已脱敏）",
        "web.topics.edit": "编辑",
        "web.topics.human": "人工命名",
        "web.status.active": "活跃",
        "web.status.emerging": "新出现",
        "web.status.ignored": "已忽略",
        "web.status.merged": "已合并",
        "web.topics.merged_here": "并入：",
        "web.topics.rename": "改名",
        "web.topics.label_zh": "中文名称",
        "web.topics.label_en": "英文名称",
        "web.topics.merge_into": "合并到",
        "web.topics.merge_theme": "合并主题到",
        "web.topics.move_to": "移到主题",
        "web.topics.ignore": "忽略",
        "web.topics.unignore": "取消忽略",
        "web.topics.search": "搜索（编号、名称、关键词、主题）",
        "web.topics.refused": "未执行：",
        "web.topics.done": "已记录修改 #{id}（可在下方撤销）。",
        "web.topics.note": "每次修改都会记录（谁、何时、修改前后），可撤销，重新拟合后仍然保留；计数与激增在下次运行时更新。",
        "web.topics.viewer": "只读：修改需要编辑者权限（VOC_WEB_EDITOR_TOKEN）。",
        "web.topics.count": "{n} 个话题",
        "web.topics.no_theme": "未归入主题的话题",
        "web.catalogue.empty": "没有符合条件的话题。",
        "web.topics.ignored": "已忽略的话题",
        "web.topics.merged": "已合并的话题",
        "web.topics.history": "修改记录",
        "web.topics.no_edits": "尚无修改。",
        "web.topics.undo": "撤销",
        "web.topics.undone": "已由 {who} 于 {when} 撤销",
        "web.col.when": "时间",
        "web.col.who": "操作人",
        "web.col.what": "修改",
        "web.col.value_before": "修改前",
        "web.col.value_after": "修改后",
        "web.edit.topic-rename": "话题改名",
        "web.edit.topic-ignore": "忽略话题",
        "web.edit.topic-unignore": "取消忽略话题",
        "web.edit.topic-merge": "合并话题",
        "web.edit.topic-move": "移动话题",
        "web.edit.topic-split": "拆分话题",
        "web.topics.split": "拆分为新话题",
        "web.topics.split_label": "新话题名称",
        "web.topics.split_note": "勾选要移入新话题的工单（本页）。",
        "web.edit.theme-rename": "主题改名",
        "web.edit.theme-merge": "合并主题",
        "web.weeks.title": "已分析的周次",
        "web.weeks.empty": "尚无已分析的周次：请先运行 voc analyze 或 voc run-weekly。",
        "web.col.week": "周次",
        "web.col.dates": "日期",
        "web.col.surges": "激增",
        "web.col.files": "简报文件",
        "web.col.period": "季度",
        "web.col.expected": "预期",
        "web.col.interval": "倍数 95%区间",
        "web.col.product": "产品",
        "web.col.model": "型号",
        "web.col.batch": "批次",
        "web.col.share": "占比",
        "web.col.before": "此前 {n} 周",
        "web.col.date": "结案日期",
        "web.col.severity": "严重程度",
        "web.col.lang": "语言",
        "web.col.text": "内容（已脱敏）",
        "web.col.resolution": "处理（已脱敏）",
        "web.global_rise": "整体上升",
        "web.reviews": "季度改进回顾",
        "web.reviews.empty": "尚无季度回顾文件。",
        "web.surge.title": "激增详情 · {week}",
        "web.sec.series": "每周数量与预期",
        "web.sec.batches": "批次分布（{week} 与此前 {n} 周）",
        "web.sec.topics": "细分话题",
        "web.sec.tickets": "工单（仅显示脱敏文本）",
        "web.batches.empty": "该单元的工单没有批次信息。",
        "web.topics.empty": "本周该单元没有工单。",
        "web.tickets.empty": "没有符合条件的工单。",
        "web.tickets.count": "共 {n} 张 · 第 {page}/{pages} 页",
        "web.filter": "筛选",
        "web.filter.all": "全部",
        "web.filter.all_weeks": "近 {n} 周",
        "web.export_csv": "导出 CSV",
        "web.page.prev": "上一页",
        "web.page.next": "下一页",
        "web.flagged": "已标记",
        "web.not_flagged": "未标记（无预期值记录）",
        "web.back_to_brief": "返回 {week} 简报",
        "web.error.not_found": "找不到该页面。",
        "web.error.week": "{week} 尚未分析。",
        "web.error.surge": "{week} 没有这个激增（可能已重新分析）。",
    },
    "en": {
        "brief.title": "Complaints into Opportunities — weekly brief · {week}",
        "brief.short_title": "Complaints into Opportunities — weekly brief",
        "review.title": "Complaints into Opportunities — quarterly improvement review · {quarter}",
        "review.short_title": "Complaints into Opportunities — quarterly improvement review",
        "generated_on": "Generated {date}",
        "period": "Week of {range}",
        "review.period": "Covers {first} to {last} ({n} weeks)",
        "sec.summary": "This week in brief",
        "sec.kpis": "Headline figures",
        "sec.surges": "Complaint surges",
        "sec.global_rise": "Overall volume",
        "sec.emerging": "Emerging topics",
        "sec.opportunities": "Opportunities: unmet needs",
        "sec.resolved": "Resolved after an action",
        "sec.actions": "Action items",
        "sec.delivery": "Alert delivery problems",
        "sec.top_topics": "Top complaint topics",
        "sec.method": "How this was computed",
        "sec.review_summary": "This quarter in brief",
        "sec.trend": "Tickets and complaints ({n} weeks)",
        "sec.themes": "Top themes",
        "sec.effects": "Did the actions work?",
        "sec.review_emerging": "Emerging topics this quarter",
        "sec.kpi_trends": "KPI trends",
        "sec.team_kpis": "Service KPIs by team",
        "empty.team_kpis": "No tickets to break down by team this quarter.",
        "col.team": "Team",
        "empty.surges": "No surges this week.",
        "empty.emerging": "No emerging topics this week.",
        "empty.opportunities": "No suggestion topics this week.",
        "empty.resolved": "No topics fell after an action this week.",
        "empty.actions": "No action items.",
        "empty.top_topics": "No complaint topics this week.",
        "empty.kpis": "No figures this week.",
        "empty.themes": "No themes this quarter.",
        "empty.effects": "No action items to assess this quarter.",
        "empty.review_emerging": "No emerging topics this quarter.",
        "empty.review_kpis": "No figures this quarter.",
        "rsum.no_data": "No ticket data this quarter.",
        "sum.no_surges": "No complaint surges this week.",
        "sum.surges_one": "1 complaint surge this week",
        "sum.surges_other": "{n} complaint surges this week",
        "sum.surges_safety_other": ", {s} safety-related ({labels})",
        "sum.surges_end": ".",
        "sum.complaints": "Complaints: {value} ({change} vs last week).",
        "sum.complaints_no_change": "Complaints: {value}.",
        "sum.global_rise": "Overall ticket volume rose as well (see below).",
        "sum.emerging_one": "1 new topic emerged.",
        "sum.emerging_other": "{n} new topics emerged.",
        "sum.opportunities_one": "1 suggestion topic points to an improvement opportunity.",
        "sum.opportunities_other": "{n} suggestion topics point to improvement opportunities.",
        "sum.actions_open_one": "1 action item is still open",
        "sum.actions_open_other": "{n} action items are still open",
        "sum.actions_overdue_other": ", {n} overdue",
        "sum.delivery_one": "Warning: 1 alert failed to send — its owner may not have been told.",
        "sum.delivery_other": "Warning: {n} alerts failed to send — their owners may not have been told.",
        "rsum.volume": "{tickets} tickets this quarter, {complaints} of them complaints ({share}).",
        "rsum.complaints_trend": "Complaints in the latest week: {last}, against {first} in the first "
        "week ({change}).",
        "rsum.effects_one": "1 action item assessed: ",
        "rsum.effects_other": "{n} action items assessed: ",
        "rsum.verdict_part": "{n} {verdict}",
        "rsum.no_effects": "No action items could be assessed this quarter.",
        "rsum.emerging_one": "1 new topic emerged this quarter.",
        "rsum.emerging_other": "{n} new topics emerged this quarter.",
        "list_sep": ", ",
        "part_sep": ", ",
        "sentence_end": ".",
        "sentence_sep": " ",
        "surge.observed_expected": "{observed} this week vs about {expected} expected",
        "surge.ratio": "ratio {ratio}",
        "surge.interval": "95% interval {lo}–{hi}",
        "surge.interval_open": "95% interval ≥ {lo}",
        "surge.q": "q = {q}",
        "surge.q_lt": "q < {q}",
        "action.due": "due {date}",
        "sum.top_ratio": "The steepest rise is “{label}”: {observed} complaints against about {expected} "
        "expected ({ratio}).",
        "surge.wow": "{change} vs last week",
        "surge.wow_from_zero": "none last week",
        "surge.since": "since {week}",
        "surge.product": "Product",
        "surge.model": "Model",
        "surge.batch": "Batch",
        "surge.level": "Level",
        "surge.concentration": "{share} from batch {batch} vs {expected} of the product's tickets ({ratio})",
        "surge.history": "last {n} weeks",
        "surge.quotes": "Customers said",
        "surge.workaround": "Usual workaround",
        "surge.fine_topics": "Fine topics",
        "surge.no_workaround": "none recorded",
        "surge.owner": "Owner",
        "surge.unassigned": "unassigned",
        "surge.action": "Action",
        "surge.no_action": "No action item yet — assign one in the meeting",
        "surge.new_topic": "new topic",
        "surge.methods": "Detected by",
        "surge.what_rose": "What rose",
        "surge.numbers": "Numbers",
        "surge.expected_legend": "dashed line = expected level",
        "col.kpi": "Figure",
        "col.value": "This week",
        "col.previous": "Last week",
        "col.change": "Change",
        "col.trend": "Trend",
        "col.topic": "Topic",
        "col.intent": "Type",
        "col.count": "Count",
        "col.keywords": "Keywords",
        "col.example": "Customers said",
        "col.id": "#",
        "col.owner": "Owner",
        "col.status": "Status",
        "col.due": "Due",
        "col.days_open": "Open",
        "col.note": "Note",
        "col.product_batch": "Product / batch",
        "col.channel": "Channel",
        "col.recipient": "Recipient",
        "col.error": "Error",
        "col.now_before": "This week / last week",
        "col.action": "Action",
        "col.fix_date": "Fixed on",
        "col.rate_before": "Before",
        "col.rate_after": "After",
        "col.ratio": "After/before (95% interval)",
        "col.verdict": "Verdict",
        "col.weeks": "Weeks assessed",
        "col.latest": "Latest week",
        "col.total": "Total",
        "days_one": "1 day",
        "days_other": "{n} days",
        "overdue": "overdue",
        "none": "—",
        "rate_unit": "complaints per 1,000 tickets",
        "kpi_change_prev": "last week {previous}",
        "legend.tickets": "tickets",
        "legend.complaints": "of which complaints",
        "method.p1": "A “surge” is a topic (or a topic within one product, model or batch) whose complaints "
        "this week are clearly above what the previous {baseline_weeks} weeks predict. All three "
        "must hold: at least {min_count} complaints this week; at least {min_ratio} the expected "
        "count; and a q value (a p value corrected for testing many topics at once) below "
        "{fdr_q}, so that no more than about {fdr_pct} of flagged surges are expected to be "
        "chance.",
        "method.p2": "Ratio = observed ÷ expected. The 95% interval is the plausible range of that ratio; a "
        "lower end above 1 means the rise is unlikely to be noise. Batch concentration compares "
        "the share of this week's complaints coming from one batch with that batch's share of "
        "all the product's tickets. Safety surges are always listed first.",
        "method.p3": "Quotes have personal data removed; all figures come from closed tickets.",
        "review.method.p1": "Each action is judged by comparing the complaint rate ({unit}) in the weeks before its "
        "fix date with the weeks after. An after/before ratio below 1 means fewer "
        "complaints; the brackets give its 95% interval.",
        "review.method.p2": "Verdicts: “worked” = the whole interval is below 1; “got worse” = the whole interval "
        "is above 1; “no clear change” = the interval spans 1; “too early to tell” = not "
        "enough weeks since the fix to judge.",
        "alert.kind.start": "Complaint surge alert",
        "alert.kind.escalation": "Complaint surge escalated",
        "alert.kind.resolved": "Complaint surge resolved",
        "alert.safety_tag": "[SAFETY] ",
        "alert.digest_one": "1 complaint surge",
        "alert.digest_other": "{n} complaint surges",
        "alert.greeting": "Hello {owner},",
        "alert.brief_link": "Full brief",
        "alert.surge_link": "Workbench",
        "alert.no_workbench": "The web workbench is not configured (web.base_url), so this message carries no link to the brief.",
        "alert.severity": "Severity",
        "alert.footer": "Sent automatically by the Complaints into Opportunities pipeline.",
        "alert.no_surges": "No surges to report in this message.",
        # surge explanations: the sentence stored with each flagged cell (reports/explanations.py)
        "explain.cell_batch": "{label}, batch {batch}",
        "explain.cell_product_safety": "{label}, safety",
        "explain.cell_all_safety": "All products, safety",
        "explain.noun_complaints": "complaints",
        "explain.noun_safety": "safety tickets",
        "explain.rise": "{name}: {observed} {noun} vs ~{expected} expected ({ratio}, {q})",
        "explain.new": "{name}: {observed} {noun}, new (none in the previous {n} periods; {q})",
        "explain.ratio_new": "new",
        "explain.q": "q={q}",
        "explain.q_lt": "q<{q}",
        "explain.q_na": "q=n/a",
        "explain.since": "; rising steadily since {when}",
        "explain.batch_share": "; {share} from batch {batch}",
        "explain.batch_count": "; batch {batch}: {observed} vs ~{expected} expected",
        "explain.units_rate": "; {rate} per 10k units vs {expected} expected",
        "explain.units_rate_new": "; {rate} per 10k units ({units} in the field)",
        "explain.window": "; in the {days} days to {date} {time} UTC",
        "explain.global": "Total volume {observed} tickets, {ratio}× the usual ~{expected} "
        "(a volume-wide rise, not counted as a topic surge)",
        # the web workbench: action items and operations pages (voc/web/actions.py, operations.py)
        "web.nav.actions": "Action items",
        "web.nav.operations": "Operations",
        "web.actions.title": "Action items",
        "web.actions.new": "New action item",
        "web.actions.from_surge": "From the surge of {week}:",
        "web.actions.create": "Create an action item from this surge",
        "web.actions.empty": "No action items yet.",
        "web.actions.add": "Create",
        "web.actions.save": "Save",
        "web.actions.created": "Action item #{id} created.",
        "web.actions.invalid": "Not saved: ",
        "web.actions.effect": "Effect",
        "web.actions.no_fix": "no fix date yet",
        "web.actions.no_topic": "no topic: cannot be measured",
        "web.actions.effect_line": "complaints per 1,000 tickets {before} → {after}, after/before {ratio} ({lo}–{hi}), {weeks} weeks after the fix",
        "web.field.topic_id": "Topic id",
        "web.field.product": "Product",
        "web.field.batch": "Batch",
        "web.field.owner": "Owner",
        "web.field.due": "Due date",
        "web.field.status": "Status",
        "web.field.fix_date": "Fix date",
        "web.field.note": "Note",
        "web.ops.title": "Operations",
        "web.ops.ingest": "Ingest runs",
        "web.ops.quarantine": "Quarantine ({n} rows waiting)",
        "web.ops.quarantine.empty": "The quarantine is empty.",
        "web.ops.quarantine.note": "Source, location and reason only (redacted); never the raw row.",
        "web.ops.replay": "Re-validate with the current config and ingest",
        "web.ops.replayed": "Replayed: {fixed} rows stored, {still} still quarantined.",
        "web.ops.whole_file": "whole file",
        "web.ops.alerts": "Alert sends",
        "web.ops.alert_problems": "Failed sends and sends with an unknown outcome",
        "web.ops.alerts.empty": "No failed or unknown sends.",
        "web.ops.stages": "Weekly stage runs",
        "web.ops.empty": "Nothing recorded yet.",
        "web.ops.col.started": "Started",
        "web.ops.col.finished": "Finished",
        "web.ops.col.source": "Source",
        "web.ops.col.read": "Read",
        "web.ops.col.inserted": "New",
        "web.ops.col.updated": "Updated",
        "web.ops.col.unchanged": "Unchanged",
        "web.ops.col.quarantined": "Quarantined",
        "web.ops.col.location": "Location",
        "web.ops.col.reason": "Reason (redacted)",
        "web.ops.col.stage": "Stage",
        "web.ops.col.summary": "Summary",
        "web.ops.col.kind": "Kind",
        "web.ops.col.attempts": "Attempts",
        "web.ops.status.sent": "sent",
        "web.ops.status.failed": "failed",
        "web.ops.status.unknown": "unknown",
        "web.ops.status.pending": "pending",
        "web.ops.status.deferred": "deferred",
        "web.ops.status.superseded": "superseded",
        # the web workbench (voc/web): page chrome; everything about the data reuses the keys above
        "web.title": "Complaints into Opportunities — workbench",
        "web.nav.weeks": "All weeks",
        "web.switch_lang": "中文",
        "web.role.viewer": "read-only (viewer)",
        "web.role.editor": "editor",
        "web.nav.topics": "Topics",
        "web.topics.title": "Topic catalogue",
        "web.topics.size": "Tickets",
        "web.topics.weeks": "Last {n} weeks",
        "web.topics.quote": "quote (redacted)",
        "web.topics.edit": "Edit",
        "web.topics.human": "human label",
        "web.status.active": "active",
        "web.status.emerging": "emerging",
        "web.status.ignored": "ignored",
        "web.status.merged": "merged",
        "web.topics.merged_here": "merged in:",
        "web.topics.rename": "Rename",
        "web.topics.label_zh": "Chinese label",
        "web.topics.label_en": "English label",
        "web.topics.merge_into": "Merge into",
        "web.topics.merge_theme": "Merge theme into",
        "web.topics.move_to": "Move to theme",
        "web.topics.ignore": "Ignore",
        "web.topics.unignore": "Un-ignore",
        "web.topics.search": "Search (id, label, keywords, theme)",
        "web.topics.refused": "Not done:",
        "web.topics.done": "Edit #{id} recorded (undo it below).",
        "web.topics.note": "Every edit is recorded (who, when, before and after), can be undone and survives refits; counts and surges follow at the next run.",
        "web.topics.viewer": "Read-only: editing needs the editor role (VOC_WEB_EDITOR_TOKEN).",
        "web.topics.count": "{n} topics",
        "web.topics.no_theme": "Topics without a theme",
        "web.catalogue.empty": "No topics match.",
        "web.topics.ignored": "Ignored topics",
        "web.topics.merged": "Merged topics",
        "web.topics.history": "Edit history",
        "web.topics.no_edits": "No edits yet.",
        "web.topics.undo": "Undo",
        "web.topics.undone": "undone by {who} on {when}",
        "web.col.when": "When",
        "web.col.who": "Who",
        "web.col.what": "Edit",
        "web.col.value_before": "Before",
        "web.col.value_after": "After",
        "web.edit.topic-rename": "Renamed topic",
        "web.edit.topic-ignore": "Ignored topic",
        "web.edit.topic-unignore": "Un-ignored topic",
        "web.edit.topic-merge": "Merged topic",
        "web.edit.topic-move": "Moved topic",
        "web.edit.topic-split": "Split topic",
        "web.topics.split": "Split off into a new topic",
        "web.topics.split_label": "New topic's label",
        "web.topics.split_note": "Tick the tickets (on this page) that go to the new topic.",
        "web.edit.theme-rename": "Renamed theme",
        "web.edit.theme-merge": "Merged theme",
        "web.weeks.title": "Analysed weeks",
        "web.weeks.empty": "No analysed weeks yet: run voc analyze or voc run-weekly first.",
        "web.col.week": "Week",
        "web.col.dates": "Dates",
        "web.col.surges": "Surges",
        "web.col.files": "Brief files",
        "web.col.period": "Quarter",
        "web.col.expected": "Expected",
        "web.col.interval": "Ratio, 95% interval",
        "web.col.product": "Product",
        "web.col.model": "Model",
        "web.col.batch": "Batch",
        "web.col.share": "Share",
        "web.col.before": "Previous {n} weeks",
        "web.col.date": "Closed",
        "web.col.severity": "Severity",
        "web.col.lang": "Language",
        "web.col.text": "Text (redacted)",
        "web.col.resolution": "Resolution (redacted)",
        "web.global_rise": "Volume-wide rise",
        "web.reviews": "Quarterly improvement reviews",
        "web.reviews.empty": "No quarterly review files yet.",
        "web.surge.title": "Surge · {week}",
        "web.sec.series": "Weekly counts and the expected level",
        "web.sec.batches": "Batches ({week} vs the {n} weeks before)",
        "web.sec.topics": "Fine topics",
        "web.sec.tickets": "Tickets (redacted text only)",
        "web.batches.empty": "No batch is recorded on this cell's tickets.",
        "web.topics.empty": "No tickets in this cell this week.",
        "web.tickets.empty": "No tickets match.",
        "web.tickets.count": "{n} tickets · page {page} of {pages}",
        "web.filter": "Filter",
        "web.filter.all": "All",
        "web.filter.all_weeks": "Last {n} weeks",
        "web.export_csv": "Export CSV",
        "web.page.prev": "Previous",
        "web.page.next": "Next",
        "web.flagged": "flagged",
        "web.not_flagged": "not flagged (no expected level stored)",
        "web.back_to_brief": "Back to the {week} brief",
        "web.error.not_found": "No such page.",
        "web.error.week": "{week} has not been analysed.",
        "web.error.surge": "No such surge in {week} (the week may have been analysed again).",
    },
}

KPI_NAMES = {
    "zh": {
        "tickets": "工单量",
        "complaints": "投诉量",
        "fcr_rate": "一次解决率",
        "closed_24h": "24小时内结案率",
        "closed_48h": "48小时内结案率",
        "reopen_rate": "重开率",
        "transfer_rate": "转派率",
    },
    "en": {
        "tickets": "Tickets",
        "complaints": "Complaints",
        "fcr_rate": "First-contact resolution",
        "closed_24h": "Closed within 24 h",
        "closed_48h": "Closed within 48 h",
        "reopen_rate": "Reopen rate",
        "transfer_rate": "Transfer rate",
    },
}
# Which direction is good news: +1 up is good, -1 down is good, 0 neutral.
KPI_GOOD_DIRECTION = {
    "tickets": 0,
    "complaints": -1,
    "fcr_rate": 1,
    "closed_24h": 1,
    "closed_48h": 1,
    "reopen_rate": -1,
    "transfer_rate": -1,
}

SEVERITY_NAMES = {
    "zh": {"safety": "安全", "defect": "质量缺陷", "service": "服务", "other": "其他"},
    "en": {"safety": "Safety", "defect": "Defect", "service": "Service", "other": "Other"},
}
SEVERITY_ORDER = {"safety": 0, "defect": 1, "service": 2, "other": 3}

LEVEL_NAMES = {
    "zh": {
        "topic": "话题",
        "topic×product": "话题×产品",
        "topic×product×model": "话题×产品×型号",
        "topic×product×batch": "话题×产品×批次",
        "product": "产品",
        "theme": "主题",
        "theme×product": "主题×产品",
        "theme×product×batch": "主题×产品×批次",
        "product×batch": "产品×批次",
        "product×safety": "产品安全",
        "safety": "安全（全部产品）",
    },
    "en": {
        "topic": "topic",
        "topic×product": "topic × product",
        "topic×product×model": "topic × model",
        "topic×product×batch": "topic × batch",
        "product": "product",
        "theme": "theme",
        "theme×product": "theme × product",
        "theme×product×batch": "theme × batch",
        "product×batch": "product × batch",
        "product×safety": "product safety",
        "safety": "safety (all products)",
    },
}

VERDICT_NAMES = {
    "zh": {"worked": "有效", "no_clear_change": "无明显变化", "got_worse": "变差", "too_early": "为时尚早"},
    "en": {
        "worked": "worked",
        "no_clear_change": "no clear change",
        "got_worse": "got worse",
        "too_early": "too early to tell",
    },
}
VERDICT_ORDER = ("worked", "no_clear_change", "got_worse", "too_early")

INTENT_NAMES = {
    "zh": {
        "complaint": "投诉",
        "suggestion": "建议",
        "question": "咨询",
        "inquiry": "咨询",
        "praise": "表扬",
        "request": "请求",
        "other": "其他",
    },
    "en": {
        "complaint": "complaint",
        "suggestion": "suggestion",
        "question": "question",
        "inquiry": "question",
        "praise": "praise",
        "request": "request",
        "other": "other",
    },
}

METHOD_NAMES = {
    "zh": {"baseline": "与近期基线比较", "seasonal": "与往年同期比较", "cusum": "CUSUM 持续上升检测"},
    "en": {
        "baseline": "vs recent baseline",
        "seasonal": "vs same season last year",
        "cusum": "CUSUM sustained-rise check",
    },
}

STATUS_NAMES = {
    "zh": {"open": "未开始", "doing": "进行中", "done": "已完成"},
    "en": {"open": "open", "doing": "in progress", "done": "done"},
}

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _finite(x: float | int | None) -> bool:
    return x is not None and not (isinstance(x, float) and not math.isfinite(x))


class Translator:
    """Messages and formatting for one language. Every method returns plain text."""

    def __init__(self, lang: str) -> None:
        self.lang = normalize_lang(lang)
        self.html_lang = HTML_LANG[self.lang]
        self._m = MESSAGES[self.lang]

    # ---- messages ------------------------------------------------------------------------
    def __call__(self, key: str, **kw: object) -> str:
        return self.t(key, **kw)

    def t(self, key: str, **kw: object) -> str:
        try:
            text = self._m[key]
        except KeyError:
            raise KeyError(f"no {self.lang} message for {key!r}") from None
        return text.format(**kw) if kw else text

    def has(self, key: str) -> bool:
        return key in self._m

    def n(self, key: str, n: int, **kw: object) -> str:
        """Pick ``key_one`` for n == 1 when the language has it, else ``key_other``."""
        one = f"{key}_one"
        chosen = one if n == 1 and one in self._m else f"{key}_other"
        return self.t(chosen, n=n, **kw)

    def _name(self, table: Mapping[str, Mapping[str, str]], value: str | None) -> str:
        if value is None:
            return self.t("none")
        return table[self.lang].get(value, value)

    def kpi_name(self, key: str) -> str:
        return self._name(KPI_NAMES, key)

    def severity(self, value: str | None) -> str:
        return self._name(SEVERITY_NAMES, value)

    def level(self, value: str | None) -> str:
        return self._name(LEVEL_NAMES, value)

    def verdict(self, value: str | None) -> str:
        return self._name(VERDICT_NAMES, value)

    def intent(self, value: str | None) -> str:
        return self._name(INTENT_NAMES, value)

    def status(self, value: str | None) -> str:
        return self._name(STATUS_NAMES, value)

    def methods(self, values: tuple[str, ...] | list[str]) -> str:
        """Detection method codes ('baseline', 'seasonal', 'cusum') as a readable list."""
        return self.join([self._name(METHOD_NAMES, v) for v in values if v])

    def join(self, items: list[str] | tuple[str, ...]) -> str:
        return self.t("list_sep").join(items)

    # ---- numbers -------------------------------------------------------------------------
    def integer(self, x: float | int | None) -> str:
        """12345 -> '12,345' (both languages)."""
        if not _finite(x):
            return self.t("none")
        return f"{round(x):,}"  # type: ignore[arg-type]

    def num(self, x: float | int | None, digits: int = 1) -> str:
        """A count that may be fractional (expected values): 3.2 -> '3.2', 12.0 -> '12'."""
        if not _finite(x):
            return self.t("none")
        text = f"{x:,.{digits}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text

    def pct(self, x: float | None, digits: int = 0) -> str:
        """A share or rate given as a fraction: 0.8 -> '80%', 0.615 (digits=1) -> '61.5%'."""
        if not _finite(x):
            return self.t("none")
        return f"{x * 100:,.{digits}f}%"  # type: ignore[operator]

    def change(self, x: float | None) -> str:
        """A relative change given as a fraction: 0.15 -> '+15%', -0.08 -> '-8%'."""
        if not _finite(x):
            return self.t("none")
        v = round(x * 100)  # type: ignore[operator]
        return f"{v:+,d}%" if v else "0%"

    def points(self, delta: float | None) -> str:
        """A change between two rates (fractions): 0.031 -> '+3.1 pts' / '+3.1个百分点'."""
        if not _finite(delta):
            return self.t("none")
        v = round(delta * 100, 1)  # type: ignore[operator]
        body = f"{v:+,.1f}" if v else "0.0"
        return f"{body}个百分点" if self.lang == "zh" else f"{body} pts"

    def ratio(self, x: float | None, digits: int = 1) -> str:
        """2.6 -> '2.6×' (effects use digits=2: 0.22 -> '0.22×')."""
        if not _finite(x):
            return self.t("none")
        return f"{x:,.{digits}f}×"

    def interval(self, lo: float | None, hi: float | None) -> str:
        if _finite(lo) and not _finite(hi):
            return self.t("surge.interval_open", lo=self.num_fixed(lo))
        return self.t("surge.interval", lo=self.num_fixed(lo), hi=self.num_fixed(hi))

    def num_fixed(self, x: float | None, digits: int = 1) -> str:
        if not _finite(x):
            return self.t("none")
        return f"{x:,.{digits}f}"

    def q(self, x: float | None) -> str:
        """q values: '<0.001' when tiny, else three decimals."""
        if not _finite(x):
            return self.t("none")
        if x < 0.001:  # type: ignore[operator]
            return "<0.001"
        return f"{x:.3f}"

    def q_phrase(self, x: float | None) -> str:
        """'q = 0.012' / 'q < 0.001' (zh 'q 值 0.012' / 'q 值 < 0.001')."""
        if _finite(x) and x < 0.001:  # type: ignore[operator]
            return self.t("surge.q_lt", q="0.001")
        return self.t("surge.q", q=self.q(x))

    # ---- dates ---------------------------------------------------------------------------
    def date(self, d: Date | None) -> str:
        """zh '2026年11月16日', en '16 Nov 2026'."""
        if d is None:
            return self.t("none")
        if self.lang == "zh":
            return f"{d.year}年{d.month}月{d.day}日"
        return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"

    def short_date(self, d: Date | None) -> str:
        """Without the year: zh '11月16日', en '16 Nov'."""
        if d is None:
            return self.t("none")
        if self.lang == "zh":
            return f"{d.month}月{d.day}日"
        return f"{d.day} {_MONTHS_EN[d.month - 1]}"

    def date_range(self, start: Date, end: Date) -> str:
        """zh '2026年11月16日至11月22日', en '16–22 Nov 2026' (years repeated only when they differ)."""
        if self.lang == "zh":
            if start.year == end.year:
                return f"{self.date(start)}至{end.month}月{end.day}日"
            return f"{self.date(start)}至{self.date(end)}"
        if start.year != end.year:
            return f"{self.date(start)} – {self.date(end)}"
        if start.month != end.month:
            return f"{self.short_date(start)} – {self.date(end)}"
        return f"{start.day}–{self.date(end)}"

    def days(self, n: int) -> str:
        return self.n("days", n)
