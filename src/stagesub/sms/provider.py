"""Sending SMS through a provider's HTTP API. One adapter: 46elks (POST /a1/sms).

46elks: Swedish, per-message pricing without a contract, Swedish numbers and alphanumeric
senders, form-encoded requests with basic auth, and an inbound webhook whose response body is
sent back as the reply SMS; what Swedish orchestras already use for this.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol


class SmsError(Exception):
    """The provider did not take the message.

    `permanent`: refused for good (this message's number or text); otherwise try again,
    no sooner than `retry_after` seconds when the provider said so (429).
    """

    def __init__(self, text: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(text)
        self.permanent = permanent
        self.retry_after = retry_after


class Provider(Protocol):
    def send(self, *, sender: str, to: str, text: str) -> str:
        """Hand one SMS to the provider; its id for the message. Raises SmsError."""
        ...


@dataclass(frozen=True)
class Elks:
    base_url: str  # https://api.46elks.com, or a local server in tests and the demo
    username: str
    password: str
    timeout: float = 10.0

    def __post_init__(self) -> None:
        # urllib would also open file: and other schemes; only the web is a provider.
        if urllib.parse.urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ValueError(f"SMS provider URL must be http(s): {self.base_url!r}")

    def send(self, *, sender: str, to: str, text: str) -> str:
        body = urllib.parse.urlencode({"from": sender, "to": to, "message": text}).encode()
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __post_init__)
            self.base_url.rstrip("/") + "/a1/sms",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise _error(exc) from exc
        except (OSError, ValueError) as exc:  # unreachable, timed out, not JSON
            raise SmsError(f"46elks unreachable: {exc}") from exc
        if not isinstance(answer, dict) or not answer.get("id"):
            raise SmsError("46elks answered without a message id")
        return str(answer["id"])


def _error(exc: urllib.error.HTTPError) -> SmsError:
    detail = exc.read(300).decode("utf-8", "replace").strip()
    text = f"46elks {exc.code}: {detail}"
    if exc.code == 429:
        return SmsError(text, retry_after=_seconds(exc.headers.get("Retry-After")))
    # 401/403: the orchestra's credentials are wrong; fixing them lets the message go later.
    if exc.code in (401, 403) or exc.code >= 500:
        return SmsError(text)
    return SmsError(text, permanent=True)  # 400: this number or text is refused


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
