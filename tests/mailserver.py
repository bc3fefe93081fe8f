"""Real mail servers on loopback: an SMTP server (aiosmtpd) that tests can stop and start
again, refuse chosen recipients on or make slow; and a silent server that accepts connections
and never answers (a hung mail server)."""

from __future__ import annotations

import asyncio
import contextlib
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

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.box.refuse:
            return "550 5.1.1 No such mailbox here"
        if address in self.box.busy:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.box.lock:
            self.box.received.append(
                email.message_from_bytes(envelope.content, policy=policy.default)
            )
        # The message is ours from here on; a slow server lets a client die before the "250"
        # (the one message a killed worker may send twice).
        if self.box.delay:
            await asyncio.sleep(self.box.delay)
        return "250 Message accepted for delivery"


class MailServer:
    def __init__(self, port: int | None = None, *, delay: float = 0.0):
        self.port = port or free_port()
        self.received: list[Message] = []
        self.refuse: set[str] = set()  # recipients answered "550 no such mailbox"
        self.busy: set[str] = set()  # recipients answered "450 try again later"
        self.delay = delay  # seconds between receiving a message and acknowledging it
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


class SilentServer:
    """Accepts TCP connections and never says a word: a hung mail (or database) server."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._socket.accept()
            except OSError:
                return  # stopped
            self.connections.append(client)  # kept open, never read or written

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # (already shut)
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        self._socket.close()
        for client in self.connections:
            client.close()
