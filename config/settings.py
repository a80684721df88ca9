"""One settings object for the whole pipeline.

Environment (``VOC_`` prefix) decides *where* things are (database, config file, output);
the YAML file decides *what* the pipeline does (sources, catalogue, owners, thresholds).
Both are read once at the entry point and passed down as values.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from voc.errors import ConfigError

EXAMPLE_CONFIG = Path(__file__).with_name("voc.example.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _regex(pattern: str) -> str:
    """The pattern, if it compiles; else a ValueError saying why (caught at load, not mid-run)."""
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"invalid regular expression '{pattern}': {e}") from None
    return pattern


Regex = Annotated[str, AfterValidator(_regex)]


def _timezone(v: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {v!r} (use an IANA name like Asia/Shanghai)") from None
    return v


class Product(_Strict):
    """One product line in the catalogue; models and aliases feed entity extraction."""

    id: str
    name_zh: str
    name_en: str
    aliases: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    owner: str | None = None


ChannelKind = Literal["email", "file", "slack", "dingtalk", "wecom", "feishu", "lark"]
CHAT_KINDS = ("slack", "dingtalk", "wecom", "feishu", "lark")
SIGNED_KINDS = ("dingtalk", "feishu", "lark")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ChannelRef(_Strict):
    """One way to reach an owner. Chat webhooks name *environment variables*, never the URL itself.

    ``webhook_env``: variable holding the webhook URL (Slack incoming webhook, DingTalk robot,
    WeCom group robot, Feishu/Lark bot). ``secret_env``: variable holding the signing secret
    (DingTalk "加签", Feishu/Lark "签名校验"); leave it out when the robot uses keywords or IP lists.
    """

    kind: ChannelKind
    webhook_env: str | None = None
    secret_env: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ChannelRef:
        for field in ("webhook_env", "secret_env"):
            v = getattr(self, field)
            if v is not None and not _ENV_NAME.match(v):
                raise ValueError(
                    f"{field} must be the NAME of an environment variable (got something else: "
                    "URLs and secrets never go in the config file)"
                )
        if self.kind in CHAT_KINDS and not self.webhook_env:
            raise ValueError(
                f"channel {self.kind!r} needs webhook_env (the variable holding the webhook URL)"
            )
        if self.kind not in CHAT_KINDS and (self.webhook_env or self.secret_env):
            raise ValueError(f"channel {self.kind!r} takes no webhook_env/secret_env")
        if self.secret_env and self.kind not in SIGNED_KINDS:
            raise ValueError(
                f"channel {self.kind!r} is not signed; secret_env is for {', '.join(SIGNED_KINDS)}"
            )
        return self


class Owner(_Strict):
    """A person or team that receives alerts and owns action items.

    ``channels``: ``email``/``file`` as plain names, chat robots as ``{kind, webhook_env, secret_env}``.
    """

    name: str
    department: str = ""
    email: str | None = None
    language: Literal["zh", "en"] = "zh"
    channels: list[ChannelRef] = Field(default_factory=lambda: [ChannelRef(kind="email")])

    @field_validator("channels", mode="before")
    @classmethod
    def _names_to_refs(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"kind": x} if isinstance(x, str) else x for x in v]
        return v


class Mapping(_Strict):
    """How one export's columns map onto the canonical ticket.

    ``rename``: source column -> canonical field. ``combine_subject``: prepend subject to body.
    ``status_map``: source status value -> canonical status. ``extract``: canonical field ->
    {column, regex} (first group wins). ``intent_from``: {column, complaint_if_le} lets review
    exports mark low star ratings as complaints. ``timezone``: for naive timestamps.
    ``date_formats``: strptime patterns tried first on text timestamps (``"%Y年%m月%d日 %H:%M"``,
    day-first ``"%d/%m/%Y %H:%M"``); epoch seconds / milliseconds are recognised without one.
    """

    rename: dict[str, str] = Field(default_factory=dict)
    combine_subject: bool = False
    status_map: dict[str, str] = Field(default_factory=dict)
    extract: dict[str, dict[str, str]] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    rating_column: str | None = None
    complaint_if_rating_le: float | None = None
    timezone: str = "Asia/Shanghai"
    id_from: list[str] = Field(default_factory=list)
    date_formats: list[str] = Field(default_factory=list)

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, v: list[str]) -> list[str]:
        from datetime import UTC, datetime

        probe = datetime(2026, 11, 16, 10, 30, 15, tzinfo=UTC)
        for f in v:
            try:
                ok = "%" in f and datetime.strptime(probe.strftime(f), f).day == 16
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"date format {f!r} is not a strptime pattern with a day in it that reads back "
                    "what it writes (e.g. '%Y年%m月%d日 %H:%M')"
                )
        return v

    @field_validator("extract")
    @classmethod
    def _extract_rules(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for field, spec in v.items():
            if "regex" not in spec or "column" not in spec:
                raise ValueError(f"extract.{field} needs a column and a regex")
            _regex(spec["regex"])
        return v

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        return _timezone(v)


SHIPMENT_COLUMNS = ("week", "product", "batch", "units")


class Shipments(_Strict):
    """The shipments file (units shipped per product, batch and week) and how its columns and product
    names read (sources/shipments.py).

    ``columns``: week / product / batch / units -> the file's own column name (common Chinese and
    English headers such as 周, 产品, 批次, 数量, qty are recognised without it). ``skus``: a product code or
    name the file uses -> catalogue product id, for codes the catalogue's ids, names, aliases and models
    do not already cover."""

    path: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    skus: dict[str, str] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("give the path of the shipments file, or null")
        return v

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(SHIPMENT_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown shipments column {', '.join(unknown)} (map week, product, batch, units "
                "to your file's column names)"
            )
        blank = [k for k, name in v.items() if not str(name).strip()]
        if blank:
            raise ValueError(f"give the file's column name for {', '.join(blank)}")
        return v


class Source(_Strict):
    """A place tickets come from. Secrets are read from ``*_env`` variables, never from here."""

    name: str
    kind: Literal["file", "sql", "zendesk", "freshdesk", "qiyu", "sobot"]
    path: str | None = None
    mapping: str | None = None
    encoding: str | None = None
    url_env: str | None = None
    query: str | None = None
    watermark_column: str | None = None
    subdomain: str | None = None
    token_env: str | None = None
    email_env: str | None = None
    domain: str | None = None
    # helpdesk/sql pulls (all optional)
    base_url: str | None = None  # override https://{subdomain}.zendesk.com / https://{domain}.freshdesk.com
    statuses: list[str] | None = (
        None  # which ticket statuses count as closed (default: solved/closed, resolved/closed)
    )
    page_size: int | None = Field(default=None, ge=1)  # tickets per API page / rows per SQL batch
    since: str | None = None  # first run only: pull what changed since this ISO time (default: all history)
    replies: bool = True  # helpdesks: read each closed ticket's replies into `resolution` (a call per ticket)
    app_key_env: str | None = None  # qiyu: the variable holding the appKey (the appSecret: token_env)
    app_id_env: str | None = None  # sobot: the variable holding the appid (the app_key: token_env)
    window_hours: int = Field(default=24, ge=1, le=48)  # qiyu/sobot: hours per export / query window
    lag_minutes: int = Field(default=120, ge=0)  # qiyu/sobot: read only up to this long before now
    # other sources holding copies of this one's tickets under the same ticket ids (e.g. its exports
    # dropped in a folder): a ticket this source reports deleted or spam is erased there too
    copies: list[str] = Field(default_factory=list)

    @field_validator("statuses", mode="before")
    @classmethod
    def _status_numbers(cls, v: Any) -> Any:
        """Freshdesk statuses are numbers (``statuses: [4, 5]``) as often as names: both are kept as text."""
        if isinstance(v, list):
            return [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in v]
        return v


class Thresholds(_Strict):
    """Surge detection knobs (plain-language meaning in the brief's method note)."""

    baseline_weeks: int = Field(default=8, ge=1)
    min_count: int = Field(default=5, ge=1)
    # 0.1 (was 0.05): bench/detection.py tuning seeds 100-104, the structured families at 0.05 found
    # jd_aircon themes 2/5 and ramps 3/5, at 0.1 3/5 and 5/5, false surges per null week unchanged
    fdr_q: float = Field(default=0.1, gt=0.0, le=1.0)
    min_ratio: float = Field(default=1.5, ge=1.0)
    # a product's (all its complaints') rise is material well below a topic's: +25%
    product_min_ratio: float = Field(default=1.25, ge=1.0)
    topic_match_similarity: float = Field(default=0.35, ge=0.0, le=1.0)
    min_new_topic_size: int = Field(default=8, ge=1)
    # average-linkage cut on the topic similarity that groups fine topics into themes (nlp.themes)
    theme_similarity: float = Field(default=0.35, gt=0.0, le=1.0)
    # the topic embedding (nlp.embedding): 'tfidf' needs no model; 'hybrid' adds the multilingual USE
    # model of the optional `multilingual` extra. Read at a catalogue's first fit only: the fitted
    # embedder is stored and every later week and refit embeds with it
    embedder: Literal["tfidf", "hybrid"] = "tfidf"
    refit_every_weeks: int = Field(default=4, ge=0)  # monthly; 0 = refit only on demand (`voc topics refit`)
    # a catalogue's first fit (the backfill) clusters at most this many tickets per intent, a seeded random
    # sample, and assigns the rest to the topics found (nlp.catalogue.first_fit)
    topic_fit_sample: int = Field(default=100_000, ge=100)
    # weeks before the current one whose tickets a new topic may take over (flows.topic_stage.split_history);
    # never fewer than baseline_weeks (the surge baseline); 0 = all history (slow on large stores)
    split_history_weeks: int = Field(default=26, ge=0)
    # at most this share of tickets may change topic id in one refit by drift (nlp.catalogue.refit);
    # the clearest moves go first, the rest wait for the next refit; clean splits are not counted
    refit_max_churn: float = Field(default=0.03, ge=0.0, le=1.0)
    # safety tickets of a product are their own false-discovery family with a recall-favouring rule
    # (surges.SurgeParams: BH level, and the handful of tickets / rise needed)
    safety_fdr_q: float = Field(default=0.2, gt=0.0, le=1.0)
    safety_p: float = Field(default=0.1, ge=0.0, le=1.0)
    safety_min_count: int = Field(default=5, ge=1)
    safety_min_ratio: float = Field(default=2.0, ge=1.0)


class Schedules(_Strict):
    timezone: str = "Asia/Shanghai"
    ingest_cron: str = "0 * * * *"
    weekly_cron: str = "0 8 * * 1"
    safety_cron: str = "0 9 * * *"
    # "1#1" = the first Monday; "1-7 ... 1" would mean days 1-7 *or* any Monday (cron ORs the two day fields)
    quarterly_cron: str = "0 8 * 1,4,7,10 1#1"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        return _timezone(v)


class Report(_Strict):
    languages: list[Literal["zh", "en"]] = Field(
        default_factory=lambda: cast(list[Literal["zh", "en"]], ["zh", "en"])
    )
    formats: list[Literal["html", "md", "pdf"]] = Field(
        default_factory=lambda: cast(list[Literal["html", "md", "pdf"]], ["html", "md"])
    )
    templates_dir: str | None = None
    brand: str = ""


class Route(_Strict):
    """A routing rule: every field given must match the surge; matching rules' owners are told."""

    product: str | None = None  # catalogue product id
    model: str | None = None
    topic: int | str | None = None  # topic id, or its label (case-insensitive)
    severity: Literal["safety", "defect", "service", "other"] | None = None
    owners: list[str] = Field(min_length=1)


class QuietHours(_Strict):
    """Local times (``alerts.timezone``) between which only safety alerts go out; others wait."""

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, v: Any) -> Any:
        if isinstance(v, int):  # YAML reads an unquoted 22:00 as the number 1320
            raise ValueError('write times in quotes, e.g. start: "22:00"')
        return v


class Alerts(_Strict):
    default_owner: str | None = None
    safety_list: list[str] = Field(default_factory=list)
    sink_dir: str | None = None
    routes: list[Route] = Field(default_factory=list)
    escalation_factor: float = Field(default=1.5, gt=1.0)
    quiet_hours: QuietHours | None = None
    timezone: str | None = None  # for quiet hours; default schedules.timezone
    attempts: int = Field(default=3, ge=1, le=10)
    retry_delay: float = Field(default=1.0, ge=0.0)  # seconds; doubles per attempt (429 Retry-After wins)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str | None) -> str | None:
        return None if v is None else _timezone(v)


class Web(_Strict):
    """``voc web``: where readers reach the workbench, for the links alerts and briefs carry."""

    # the workbench's address as readers' browsers reach it (e.g. https://voc.example.com); null = alerts
    # and briefs say the workbench is not configured instead of linking
    base_url: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        parts = urlsplit(v)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.query
            or parts.fragment
            or any(c.isspace() or ord(c) < 32 for c in v)
        ):
            raise ValueError(
                f"web.base_url must be an http(s) address without query, e.g. "
                f"https://voc.example.com; got {v!r}"
            )
        if parts.username or parts.password:
            raise ValueError("web.base_url must not carry a user name or password")
        return v


class VocConfig(_Strict):
    """The YAML config file, validated."""

    sources: list[Source] = Field(default_factory=list)
    mappings: dict[str, Mapping] = Field(default_factory=dict)
    products: list[Product] = Field(default_factory=list)
    owners: list[Owner] = Field(default_factory=list)
    order_patterns: list[Regex] = Field(default_factory=list)
    teams: dict[str, list[str]] = Field(default_factory=dict)
    max_body_chars: int = Field(default=100_000, ge=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    schedules: Schedules = Field(default_factory=Schedules)
    report: Report = Field(default_factory=Report)
    alerts: Alerts = Field(default_factory=Alerts)
    web: Web = Field(default_factory=Web)
    # units shipped per product (and batch) per week: CSV/TSV/XLSX/XLS/Parquet with columns week, product,
    # optional batch, units (sources/shipments.py): a path, or {path, columns, skus} (``Shipments``). Given,
    # product and batch surges are judged per 10k units in the field instead of per ticket; null (or a
    # null path) = total ticket volume everywhere.
    shipments: str | Shipments | None = None

    @field_validator("shipments")
    @classmethod
    def _shipments_path(cls, v: str | Shipments | None) -> str | Shipments | None:
        if isinstance(v, str) and not v.strip():
            raise ValueError("give the path of the shipments file, or null")
        if isinstance(v, Shipments) and v.path is None:
            return None  # the long form with its path left out: no shipments file
        return v

    @model_validator(mode="after")
    def _sku_products(self) -> VocConfig:
        if isinstance(self.shipments, Shipments) and self.products:
            ids = {p.id for p in self.products}
            bad = sorted({v for v in self.shipments.skus.values() if v not in ids})
            if bad:
                raise ValueError(
                    f"shipments.skus: {', '.join(map(repr, bad))} is not a catalogue product id "
                    f"(ids: {', '.join(sorted(ids))})"
                )
        return self

    @field_validator("sources")
    @classmethod
    def _unique_sources(cls, v: list[Source]) -> list[Source]:
        names = [s.name for s in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate source names: {sorted(dup)}")
        return v

    @model_validator(mode="after")
    def _copies_named(self) -> VocConfig:
        names = {s.name for s in self.sources}
        for s in self.sources:
            bad = [c for c in s.copies if c not in names or c == s.name]
            if bad:
                raise ValueError(
                    f"source {s.name!r}: copies: {', '.join(map(repr, bad))} is not another source "
                    f"(sources: {', '.join(sorted(names))})"
                )
        return self

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no source named {name!r} in config (have: {[s.name for s in self.sources]})")

    def mapping(self, name: str | None) -> Mapping:
        if name is None:
            return Mapping()
        if name not in self.mappings:
            raise ConfigError(f"no mapping named {name!r} in config (have: {sorted(self.mappings)})")
        return self.mappings[name]

    def source_mappings(self) -> dict[str, Mapping]:
        """The mapping of every row's source name, as a quarantine replay re-reads it: each named
        mapping under its own name, and each configured source under its name."""
        out = dict(self.mappings)
        out.update({s.name: self.mapping(s.mapping) for s in self.sources})
        return out

    def owner(self, name: str | None) -> Owner | None:
        for o in self.owners:
            if o.name == name:
                return o
        return None

    def product(self, product_id: str | None) -> Product | None:
        for p in self.products:
            if p.id == product_id:
                return p
        return None


class Settings(BaseSettings):
    """Where things live. Every field can be set as ``VOC_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="VOC_", extra="ignore")

    database_url: str = "sqlite:///voc.sqlite3"
    config: Path = EXAMPLE_CONFIG
    out_dir: Path = Path("out")
    lang: Literal["zh", "en"] = "zh"
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "voc@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False  # implicit TLS (SMTPS, usually port 465) instead of plain SMTP or STARTTLS
    # Where the understanding stage's NLP chunks run (docs/scale-out.md): here, one after another
    # (sequential); a thread or process pool on this machine; or a Dask cluster (extra `dask`).
    # auto: a process pool of `workers` (at most the cores) from 20,000 pending tickets, else here.
    task_runner: Literal["auto", "sequential", "threads", "processes", "dask"] = "auto"
    dask_address: str = ""  # tcp://scheduler:8786; empty = start a LocalCluster of `workers` processes
    workers: int = Field(default=2, ge=1)  # pool size / LocalCluster workers
    chunk_size: int = Field(default=500, ge=1)  # tickets per NLP task
    # `voc web`: the token every request must carry (HTTP Basic password or Bearer); required to bind
    # anything but localhost (voc/web/security.py)
    web_token: SecretStr | None = None
    # `voc web`: the token of the editor role (edits the topics and action items; VOC_WEB_TOKEN then
    # grants viewing only). Without either token, on localhost, the local user is an editor.
    web_editor_token: SecretStr | None = None

    @model_validator(mode="after")
    def _one_tls(self) -> Settings:
        if self.smtp_ssl and self.smtp_starttls:
            raise ValueError(
                "set VOC_SMTP_SSL (implicit TLS, port 465) or VOC_SMTP_STARTTLS (port 587), not both"
            )
        return self

    def load_config(self) -> VocConfig:
        return load_config(self.config)


# fields whose values may be (or may have been pasted by mistake as) secrets: never echoed in errors
_SECRET_FIELD = re.compile(
    r"(?i)password|passwd|secret|token|_env$|url|query|dsn|key|hook|sign|auth|cred|"
    r"cookie|access|private|cert"
)
# an opaque run of letters and digits (an access_token, an API key) is not echoed under any field name
_TOKEN_LIKE = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-+/=.]{20,}")


def _shown(field: str, value: Any) -> str:
    """`` (got X)`` for a value that is safe and useful to echo, else nothing (never a secret)."""
    if _SECRET_FIELD.search(field):
        return ""
    if isinstance(value, str) and _TOKEN_LIKE.fullmatch(value.strip()):
        return ""
    if value is None or isinstance(value, (bool, int, float)):
        return f" (got {value!r})"
    if isinstance(value, str) and len(value) <= 60 and "://" not in value and "@" not in value:
        return f" (got {value!r})"
    return ""


def validation_problems(e: ValidationError, prefix: str = "") -> list[str]:
    """Every problem pydantic found, as ``field: message (got value)`` lines, in file order."""
    lines = []
    for err in e.errors():
        where = (
            prefix + ".".join(str(x) for x in err["loc"])
            if err["loc"]
            else prefix.rstrip(".") or "(top level)"
        )
        msg = err["msg"].removeprefix("Value error, ")
        # the value of an unknown key is never shown: it may be a secret pasted under any name
        quiet = err["type"] in ("value_error", "extra_forbidden")
        lines.append(f"{where}: {msg}" + ("" if quiet else _shown(where, err.get("input"))))
    return lines


def _decode(p: Path, data: bytes) -> str:
    """The config text: UTF-8 (with or without BOM) or BOM-marked UTF-16; anything else is a clear error
    naming the likely encoding (a GBK file is not silently guessed: the rules must read exactly as written)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        try:
            data.decode("gb18030")
            guess = "; it looks like GBK/GB18030"
        except UnicodeDecodeError:
            guess = ""
        raise ConfigError(f"config file {p} is not UTF-8 (line {line}{guess}): save it as UTF-8") from None


def load_config(path: Path | str) -> VocConfig:
    """Read and validate the YAML config completely (every regex compiled, every range checked).

    Errors name the file and the offending field; when several fields are wrong, the ConfigError lists
    every one, one per line (``config file F: field: problem``). Values of secret-looking fields are never shown.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"config file {p} is a folder (VOC_CONFIG must name a YAML file)")
    try:
        data = p.read_bytes()
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {p}") from e
    except OSError as e:
        raise ConfigError(f"config file {p} cannot be read: {e.strerror or e}") from e
    try:
        raw: Any = yaml.safe_load(_decode(p, data)) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p} is not valid YAML: {' '.join(str(e).split())}") from e
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config file {p} must be a YAML mapping (key: value lines), not a {type(raw).__name__}"
        )
    try:
        return VocConfig.model_validate(raw)
    except ValidationError as e:
        problems = [f"config file {p}: {line}" for line in validation_problems(e)]
        raise ConfigError("; ".join(problems), problems) from e


def settings_from_env() -> Settings:
    """``Settings()`` with errors as one ConfigError line per ``VOC_`` variable (values never shown)."""
    try:
        return Settings()
    except ValidationError as e:
        lines = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:  # a rule across variables
                lines.append(f"environment: {msg}")
                continue
            name = "VOC_" + "_".join(str(x) for x in err["loc"]).upper()
            lines.append(f"environment variable {name}: {msg}")
        raise ConfigError("; ".join(lines), lines) from e
