"""Alert routing: who is told about a surge, and on which channels. Pure: config and items in, values out.

Every ``alerts.routes`` rule whose given fields all match the surge adds its owners; with none
matching, the product's owner is told, else ``alerts.default_owner``. A safety surge also goes to
everyone on ``alerts.safety_list``. Each owner is reached on each of their configured channels
(an owner missing from ``owners:`` is mailed at the name, which is then taken as an address).
"""

from __future__ import annotations

from dataclasses import dataclass

from voc.config.settings import Route, VocConfig
from voc.reports.model import SurgeItem


@dataclass(frozen=True)
class Target:
    """One way to reach one owner. ``recipient`` is an e-mail address or ``kind:VARIABLE_NAME``."""

    owner: str
    language: str
    channel: str  # email | file | slack | dingtalk | wecom | feishu | lark
    recipient: str
    webhook_env: str | None = None
    secret_env: str | None = None


def route_matches(r: Route, item: SurgeItem) -> bool:
    if r.product is not None and r.product != item.product_id:
        return False
    if r.model is not None and (item.model or "").lower() != r.model.lower():
        return False
    if r.severity is not None and r.severity != item.severity:
        return False
    if r.topic is not None:
        if isinstance(r.topic, int):
            return item.topic_id == r.topic
        return item.topic_label.strip().lower() == r.topic.strip().lower()
    return True


def owner_for(cfg: VocConfig, product_id: str | None) -> str | None:
    """The product's owner, else ``alerts.default_owner`` (also the owner a brief item names)."""
    p = cfg.product(product_id)
    return (p.owner if p and p.owner else None) or cfg.alerts.default_owner


def owners_for(cfg: VocConfig, item: SurgeItem) -> list[str]:
    """Owners of every matching route; else the product's owner; else the default owner. Safety adds the list."""
    routed: list[str | None] = [o for r in cfg.alerts.routes if route_matches(r, item) for o in r.owners]
    owners = routed or [owner_for(cfg, item.product_id)]
    if item.severity == "safety":
        owners += cfg.alerts.safety_list
    return list(dict.fromkeys(o for o in owners if o))


def targets_for(cfg: VocConfig, owner_name: str, sink: bool = False) -> list[Target]:
    """Each channel of the owner once; ``sink`` (demo, tests): one file target per owner instead."""
    owner = cfg.owner(owner_name)
    lang = owner.language if owner else "zh"
    email = owner.email if owner and owner.email else owner_name
    if sink:  # demo / testing: one file per owner
        return [Target(owner_name, lang, "file", email)]
    if owner is None:
        return [Target(owner_name, lang, "email", email)]
    out: dict[tuple[str, str], Target] = {}
    for ref in owner.channels:
        recipient = email if ref.kind in ("email", "file") else f"{ref.kind}:{ref.webhook_env}"
        out.setdefault(
            (ref.kind, recipient),
            Target(owner_name, lang, ref.kind, recipient, ref.webhook_env, ref.secret_env),
        )
    return list(out.values())
