"""A local 46elks: a real HTTP server on loopback speaking its SMS API (POST /a1/sms).

Used by the tests (tests/smsprovider.py) and the demo (`stagesub sms_provider_dev`). Basic
auth against one account; 400 for a number that is not E.164; on demand the answers of an
unhealthy provider (`fail_next`: a status and optional Retry-After for the next calls). Sent
messages are kept in `sent`.

With `sms_url` (the orchestra's webhook) it is also the musicians' phones: GET / lists the
SMS sent, each with a form that replies to it as 46elks would deliver the reply (form-encoded
POST of id, from, to, message to `sms_url`); the webhook's answer is shown as the reply SMS.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class ElksServer:
    def __init__(
        self,
        account: tuple[str, str] = ("u-test", "p-secret"),
        *,
        port: int = 0,
        sms_url: str = "",
        on_sms=None,
    ) -> None:
        self.username, self.password = account
        self.sms_url = sms_url
        self.on_sms = on_sms  # called with each SMS taken (the dev command prints it)
        self.sent: list[dict[str, str]] = []
        self.failures: list[tuple[int, str | None]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
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

    def take(self, form: dict[str, str]) -> dict[str, str]:
        with self._lock:
            sms = {"id": f"s{next(self._ids):08x}", **form}
            self.sent.append(sms)
        if self.on_sms is not None:
            self.on_sms(sms)
        return sms

    def reply(self, to_sms: dict[str, str], text: str) -> str:
        """The musician answers `to_sms`: deliver it to the webhook; its reply SMS text."""
        inbound = {
            "direction": "incoming",
            "id": f"i{next(self._ids):08x}",
            "from": to_sms["to"],
            "to": to_sms["from"],
            "message": text,
        }
        request = urllib.request.Request(  # noqa: S310 (the URL the developer gave)
            self.sms_url, data=urlencode(inbound).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer = response.read().decode()
        if answer:
            self.take({"from": to_sms["from"], "to": to_sms["to"], "message": answer})
        return answer

    def _handler(self):
        elks = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: the tests and the command print
                pass

            def _reply(self, status: int, body: str, headers: dict | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

            def do_GET(self) -> None:
                if self.path != "/" or not elks.sms_url:
                    return self._reply(404, "Not found")
                rows = "".join(
                    f"<li><b>{html.escape(s['from'])} → {html.escape(s['to'])}</b>: "
                    f"{html.escape(s['message'])}"
                    f'<form method="post" action="/reply"><input type="hidden" name="sms" '
                    f'value="{html.escape(s["id"])}"><input name="text" value="JA">'
                    f"<button>Reply</button></form></li>"
                    for s in reversed(elks.sent)
                )
                page = f"<!doctype html><meta charset=utf-8><h1>Local 46elks</h1><ul>{rows}</ul>"
                self._reply(200, page, {"Content-Type": "text/html; charset=utf-8"})

            def do_POST(self) -> None:
                form = self._form()
                if self.path == "/reply" and elks.sms_url:
                    original = next((s for s in elks.sent if s["id"] == form.get("sms")), None)
                    if original is None:
                        return self._reply(404, "No such SMS")
                    elks.reply(original, form.get("text", ""))
                    return self._reply(303, "", {"Location": "/"})
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
                    text = "Too many requests" if status == 429 else "Error"
                    return self._reply(status, text, headers)
                for field in ("from", "to", "message"):
                    if not form.get(field):
                        return self._reply(400, f"Missing key {field}")
                if not E164.match(form["to"]):
                    return self._reply(400, "Invalid to number")
                sms = elks.take(form)
                self._reply(200, json.dumps({**sms, "status": "created", "direction": "outgoing"}))

        return Handler
