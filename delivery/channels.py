"""Alert channels behind one small interface (``delivery.message``): e-mail, files, and the chat robots
of ``delivery.chat`` chosen per target, and :func:`deliver`: one message to one target, retried.
Secrets come from the environment, never config.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

from voc.atomic import atomic_write, make_folder
from voc.delivery.message import Channel, DeliveryError, Message
from voc.delivery.routing import Target

log = logging.getLogger("voc.alerts")


class FileSink:
    """Writes each message to a folder (one .txt and one .json per message): the demo's 'outbox'."""

    name = "file"

    def __init__(self, folder: Path):
        self.folder = folder
        make_folder(folder)

    def send(self, message: Message) -> None:
        n = len(list(self.folder.glob("*.json"))) + 1
        stem = f"{n:03d}-" + re.sub(r"[^\w.-]+", "_", message.recipient)[:60]
        atomic_write(
            self.folder / f"{stem}.txt",
            f"To: {message.recipient}\nSubject: {message.subject}\n\n{message.text}",
        )
        atomic_write(self.folder / f"{stem}.json", json.dumps(message.__dict__, ensure_ascii=False, indent=2))


@dataclass
class SmtpChannel:
    """SMTP with optional STARTTLS, or implicit TLS from the first byte (``implicit_tls``, port 465);
    optional login; HTML and text parts."""

    host: str
    port: int = 25
    sender: str = "voc@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 20.0
    name: str = "email"
    ssl_context: ssl.SSLContext | None = None  # default: the system's trusted CAs
    implicit_tls: bool = False  # SMTPS (port 465): TLS before the greeting; STARTTLS is then not used

    def __repr__(self) -> str:  # never show the password (dataclass repr would)
        return (
            f"SmtpChannel(host={self.host!r}, port={self.port}, user={self.user!r}, starttls={self.starttls}, "
            f"implicit_tls={self.implicit_tls})"
        )

    def send(self, message: Message) -> None:
        # email.mime + Header, not EmailMessage: the new policy's folder drops the space before a
        # fold between an encoded word and ASCII ("KX-30A · 批次" arrived as "KX-30A· 批次");
        # Header splits the subject into RFC 2047 words of <= 75 characters with the spaces inside.
        msg: MIMEBase = MIMEText(message.text, "plain", "utf-8")
        if message.html:
            alt = MIMEMultipart("alternative")
            alt.attach(msg)
            alt.attach(MIMEText(message.html, "html", "utf-8"))
            msg = alt
        msg["From"], msg["To"] = self.sender, message.recipient
        msg["Subject"] = Header(message.subject, "utf-8")  # type: ignore[assignment]  # compat32 takes a Header
        try:
            tls = self.ssl_context or ssl.create_default_context()
            server = (
                smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=tls)
                if self.implicit_tls
                else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            )
            with server as smtp:
                if self.starttls and not self.implicit_tls:
                    smtp.starttls(context=tls)
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(
                f"SMTP login refused for {self.user!r} ({e.smtp_code})", permanent=True
            ) from e
        except smtplib.SMTPRecipientsRefused as e:
            raise DeliveryError(f"recipient refused: {message.recipient}", permanent=True) from e
        except smtplib.SMTPResponseException as e:
            # 5xx replies are permanent (bad sender, message refused); 4xx are worth another try
            raise DeliveryError(
                f"SMTP {self.host}:{self.port}: {e.smtp_code}", permanent=e.smtp_code >= 500
            ) from e
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(e).__name__}") from e


class ChannelSet:
    """Builds the channel for each (kind, webhook_env, secret_env) target when it is needed.

    A missing piece (no SMTP host, an unset variable) is a permanent failure of *that* target only,
    so one unconfigured channel never stops the others. With a ``sink`` every message goes to files.
    """

    def __init__(
        self,
        smtp: SmtpChannel | None = None,
        sink: FileSink | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ):
        self.smtp, self.sink, self.timeout = smtp, sink, timeout
        self.env = os.environ if env is None else env
        self.name = "file" if sink is not None else "email"

    def __repr__(self) -> str:
        return f"ChannelSet(smtp={self.smtp!r}, sink={self.sink and self.sink.folder!r})"

    def for_target(self, kind: str, webhook_env: str | None = None, secret_env: str | None = None) -> Channel:
        from voc.delivery import chat

        if self.sink is not None:
            return self.sink
        if kind == "email":
            if self.smtp is None:
                raise DeliveryError("no SMTP server configured (set VOC_SMTP_HOST)", permanent=True)
            return self.smtp
        if kind not in chat.SENDERS:
            raise DeliveryError(
                f"channel {kind!r} needs a sink folder (alerts.sink_dir or --to)", permanent=True
            )
        url = self.env.get(webhook_env or "")
        if not url:
            raise DeliveryError(f"{kind}: environment variable {webhook_env} is not set", permanent=True)
        secret = None
        if secret_env:
            secret = self.env.get(secret_env)
            if not secret:
                raise DeliveryError(f"{kind}: environment variable {secret_env} is not set", permanent=True)
        return chat.SENDERS[kind](url, secret=secret, timeout=self.timeout)


def deliver(
    message: Message,
    tg: Target,
    channels: Any,
    attempts: int,
    retry_delay: float,
    sleep: Callable[[float], None],
    max_delay: float,
) -> tuple[str, str | None, int]:
    """Send ``message`` on the target's channel (``channels``: a :class:`ChannelSet`, or one channel for
    every target): transient failures are retried up to ``attempts`` tries with exponential backoff
    from ``retry_delay`` (or the server's ``retry_after``), at most ``max_delay`` seconds apart;
    permanent ones are not. A broken channel never raises. Returns (sent | failed, the last error, tries)."""
    try:
        channel: Channel = (
            channels.for_target(tg.channel, tg.webhook_env, tg.secret_env)
            if hasattr(channels, "for_target")
            else channels
        )
    except DeliveryError as e:
        return "failed", str(e), 0
    tries, error = 0, None
    while tries < attempts:
        tries += 1
        retry_after = None
        try:
            channel.send(message)
            return "sent", None, tries
        except DeliveryError as e:
            error, permanent, retry_after = str(e), e.permanent, e.retry_after
        except Exception as e:  # noqa: BLE001 - a broken channel must not stop the others
            error, permanent = f"{type(e).__name__} in the {tg.channel} channel", True
        log.warning(
            "alert to %s via %s failed (attempt %d of %d): %s",
            tg.recipient,
            tg.channel,
            tries,
            attempts,
            error,
        )
        if permanent or tries >= attempts:
            break
        sleep(min(max_delay, retry_after if retry_after is not None else retry_delay * 2 ** (tries - 1)))
    return "failed", error, tries
