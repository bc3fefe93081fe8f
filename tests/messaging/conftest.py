"""Mail servers that misbehave, and a clean slate for the process-wide outage memory."""

from __future__ import annotations

import pytest

from stagesub.messaging import delivery
from tests.mailserver import SilentServer


@pytest.fixture(autouse=True)
def _no_remembered_outage():
    # A server another test saw fail must not defer this test's mail (ports can be reused).
    delivery.outages._until.clear()
    yield
    delivery.outages._until.clear()


def use_smtp(settings, port: int, timeout: float = 1) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = timeout


@pytest.fixture
def silent_mail(settings):
    """A mail server that accepts connections and never answers; 1 s SMTP timeout."""
    server = SilentServer().start()
    use_smtp(settings, server.port, timeout=1)
    yield server
    server.stop()
