"""Alert channels behind one small interface. Secrets come from settings (environment), never config."""

from __future__ import annotations

import json
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol


class DeliveryError(Exception):
    """A send failed; ``permanent`` ones are not retried."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    recipient: str
    subject: str
    text: str
    html: str | None = None


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


class FileSink:
    """Writes each message to a folder (one .txt and one .json per message): the demo's 'outbox'."""

    name = "file"

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: Message) -> None:
        n = len(list(self.folder.glob("*.json"))) + 1
        stem = f"{n:03d}-" + re.sub(r"[^\w.-]+", "_", message.recipient)[:60]
        (self.folder / f"{stem}.txt").write_text(f"To: {message.recipient}\nSubject: {message.subject}\n\n"
                                                 f"{message.text}", encoding="utf-8")
        (self.folder / f"{stem}.json").write_text(json.dumps(message.__dict__, ensure_ascii=False, indent=2),
                                                  encoding="utf-8")


@dataclass
class SmtpChannel:
    """Plain SMTP with optional STARTTLS and login; HTML and text parts."""

    host: str
    port: int = 25
    sender: str = "voc@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 20.0
    name: str = "email"

    def send(self, message: Message) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, message.recipient, message.subject
        msg.set_content(message.text)
        if message.html:
            msg.add_alternative(message.html, subtype="html")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(f"SMTP login refused for {self.user!r} ({e.smtp_code})", permanent=True) from e
        except smtplib.SMTPRecipientsRefused as e:
            raise DeliveryError(f"recipient refused: {message.recipient}", permanent=True) from e
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {e}") from e
