"""A real SMTP server on loopback (aiosmtpd) that tests can stop and start again."""

from __future__ import annotations

import email
import socket
import threading
from email import policy
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collect:
    def __init__(self, box: MailServer):
        self.box = box

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.box.lock:
            self.box.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        with self.box.lock:
            self.box.received.append(
                email.message_from_bytes(envelope.content, policy=policy.default)
            )
        return "250 Message accepted for delivery"


class MailServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[Message] = []
        self.sessions = 0  # SMTP sessions opened (EHLO greetings)
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Message]:
        return [m for m in self.received if m["To"] == address]

    @staticmethod
    def text(message: Message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def attachments(message: Message) -> list[str]:
        return [part.get_filename() for part in message.iter_attachments()]
