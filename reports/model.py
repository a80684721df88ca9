"""The data objects that briefs, alerts and reviews are rendered from.

Everything here is already aggregated and already redacted: templates only format. Assembled by
``reports.assembly`` (the brief, its surge items for the alerts) from what ``flows`` load with
aggregating queries (never by loading every ticket), rendered by ``reports.render``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Kpi:
    """One headline figure with its previous-week value and a short history (oldest first)."""

    key: str  # tickets | complaints | fcr_rate | closed_24h | closed_48h | reopen_rate | transfer_rate
    value: float | None
    previous: float | None
    history: tuple[float | None, ...] = ()
    is_rate: bool = False  # rates are shown as percentages; changes in points


@dataclass(frozen=True)
class Quote:
    text: str  # redacted, normalised
    language: str


@dataclass(frozen=True)
class BatchShare:
    batch: str
    share: float  # share of this cell's complaints this week coming from the batch
    expected_share: float  # the batch's share of the product's tickets (or shipments)
    ratio: float  # disproportionality (shrunk)


@dataclass(frozen=True)
class SurgeItem:
    topic_id: int
    topic_label: str
    level: str  # theme… | topic… | product | product×batch | product×safety | safety (surges.cells)
    product: str | None  # display name in the brief's language
    model: str | None
    batch: str | None
    severity: str  # safety | defect | service | other
    observed: int
    expected: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    q_value: float
    wow_change: float | None  # week-over-week relative change (0.15 = +15%), None if last week was 0
    since_week: str  # first week of the rise, e.g. "2026-W45"
    methods: tuple[str, ...]
    is_new_topic: bool
    concentration: BatchShare | None
    history: tuple[int, ...]  # weekly counts, oldest first, ending with this week (12 weeks)
    quotes: tuple[Quote, ...]
    workaround: str | None  # most common redacted resolution in this topic
    owner: str | None
    action: ActionItem | None
    explanation: str  # one sentence in the brief's language
    product_id: str | None = None  # catalogue id (``product`` is the display name)
    alert_key: str = ""  # identity of the surge episode (cell + start week), for alert dedupe
    theme_id: int | None = None  # the theme this item speaks for (one item per theme)
    surge_identity: str = ""  # which surge this is week after week (surges.selection.SurgeGroup.identity)
    fine_topics: tuple[str, ...] = ()  # labels of the fine topics under the theme with tickets this week


@dataclass(frozen=True)
class TopicItem:
    topic_id: int
    label: str
    intent: str
    count: int
    previous: int
    keywords: tuple[str, ...]
    quotes: tuple[Quote, ...]
    history: tuple[int, ...] = ()


@dataclass(frozen=True)
class ActionItem:
    action_id: int
    topic_id: int | None
    topic_label: str | None
    product: str | None
    batch: str | None
    owner: str
    status: str  # open | doing | done
    due: date | None
    fix_date: date | None
    days_open: int
    note: str


@dataclass(frozen=True)
class DeliveryProblem:
    """A permanently failed alert send, shown so nobody assumes the owner was told."""

    channel: str
    recipient: str
    error: str


@dataclass(frozen=True)
class MethodNote:
    baseline_weeks: int
    min_count: int
    fdr_q: float
    min_ratio: float


@dataclass(frozen=True)
class Brief:
    """The weekly meeting pack: one object, rendered to HTML and Markdown, zh or en."""

    week: str  # "2026-W47"
    week_start: date
    week_end: date  # inclusive (Sunday)
    generated_on: date
    brand: str
    kpis: tuple[Kpi, ...]
    global_rise: str | None  # one sentence when total volume itself rose (sale, 3·15), else None
    surges: tuple[SurgeItem, ...]  # safety first, then by q-value
    emerging: tuple[TopicItem, ...]
    opportunities: tuple[TopicItem, ...]  # suggestion topics = unmet needs
    resolved: tuple[TopicItem, ...]  # topics that fell after an action
    top_topics: tuple[TopicItem, ...]  # biggest complaint topics this week
    actions: tuple[ActionItem, ...]
    delivery_problems: tuple[DeliveryProblem, ...]
    method: MethodNote
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionEffect:
    action: ActionItem
    weeks: int
    rate_before: float  # complaints per 1,000 tickets (or per 10k units with shipments)
    rate_after: float
    change_lo: float  # 95% interval of rate ratio after/before
    change_hi: float
    ratio: float
    verdict: str  # worked | no_clear_change | got_worse | too_early


@dataclass(frozen=True)
class TeamKpis:
    """One support team's service KPIs over the review's weeks (team = configured agent group, else channel)."""

    team: str
    tickets: int
    kpis: tuple[Kpi, ...]  # fcr_rate, closed_24h, reopen_rate, transfer_rate; history = the quarter's weeks


@dataclass(frozen=True)
class Review:
    """The quarterly improvement review."""

    quarter: str
    weeks: tuple[str, ...]
    generated_on: date
    brand: str
    totals: tuple[int, ...]  # tickets per week
    complaints: tuple[int, ...]
    top_topics: tuple[TopicItem, ...]  # with 13-week history
    effects: tuple[ActionEffect, ...]
    emerging: tuple[TopicItem, ...]
    kpis: tuple[Kpi, ...]
    teams: tuple[TeamKpis, ...] = ()


@dataclass(frozen=True)
class Alert:
    """One message to one owner about one surge (or a digest of several)."""

    owner: str
    language: str
    channel: str
    recipient: str
    week: str
    kind: str  # start | escalation | resolved
    surges: tuple[SurgeItem, ...]
    brief_link: str | None = None  # the week's brief in the web workbench (``web.base_url``)
    surge_links: tuple[tuple[str, str], ...] = ()  # (surge_identity, its workbench page) per item
    no_workbench: bool = False  # no web.base_url: say so instead of a link

    def surge_link(self, s: SurgeItem) -> str | None:
        """The workbench page of surge item ``s``, if there is one."""
        return next(
            (url for ident, url in self.surge_links if s.surge_identity and ident == s.surge_identity), None
        )
