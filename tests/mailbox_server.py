"""A local SMTP server (aiosmtpd) that keeps what it receives, for the e-mail alert channel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller

from mlops.adapters.probes import free_port


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    @property
    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, dict[str, str]]]:
    """The mailbox, and the settings that send alert e-mail to it."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, {"MLOPS_SMTP_HOST": "127.0.0.1", "MLOPS_SMTP_PORT": str(port),
                    "MLOPS_SMTP_FROM": "mlops@acme.example"}  # fmt: skip
    finally:
        controller.stop()
