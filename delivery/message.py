"""What every alert channel shares: the message it sends, the ``Channel`` interface, and how a send fails.

``Channel.send`` delivers one message or raises ``DeliveryError`` (``permanent`` = do not retry,
``retry_after`` = the server asked us to wait). Channels never put a secret (password, webhook
URL, signing secret) into an error message; the caller records those messages in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DeliveryError(Exception):
    """A send failed; ``permanent`` ones are not retried; ``retry_after`` is the server's wish in seconds."""

    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Message:
    recipient: str
    subject: str
    text: str
    html: str | None = None
    markdown: str | None = None  # for chat robots that render Markdown (DingTalk, WeCom)


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None: ...
