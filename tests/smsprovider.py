"""A local 46elks: a real HTTP server on loopback speaking its SMS API (POST /a1/sms).

Basic auth against one account; 400 for a number that is not E.164; and, on demand, answers
of an unhealthy provider (`fail_next`: a status and optional Retry-After for the next calls).
Sent messages are kept in `sent` for the tests to read.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class ElksServer:
    def __init__(self, account: tuple[str, str] = ("u-test", "p-secret")) -> None:
        self.username, self.password = account
        self.sent: list[dict[str, str]] = []
        self.failures: list[tuple[int, str | None]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, status: int, retry_after: str | None = None, times: int = 1) -> None:
        with self._lock:
            self.failures.extend([(status, retry_after)] * times)

    def start(self) -> ElksServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        elks = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet in tests
                pass

            def _reply(self, status: int, body: str, headers: dict | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path != "/a1/sms":
                    return self._reply(404, "Not found")
                expected = base64.b64encode(f"{elks.username}:{elks.password}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self._reply(401, "Unauthorized", {"WWW-Authenticate": "Basic"})
                with elks._lock:
                    failure = elks.failures.pop(0) if elks.failures else None
                if failure is not None:
                    status, retry_after = failure
                    headers = {"Retry-After": retry_after} if retry_after else {}
                    return self._reply(
                        status, "Too many requests" if status == 429 else "Error", headers
                    )
                for field in ("from", "to", "message"):
                    if not form.get(field):
                        return self._reply(400, f"Missing key {field}")
                if not E164.match(form["to"]):
                    return self._reply(400, "Invalid to number")
                with elks._lock:
                    sms = {"id": f"s{next(elks._ids):08x}", **form}
                    elks.sent.append(sms)
                self._reply(200, json.dumps({**sms, "status": "created", "direction": "outgoing"}))

        return Handler
