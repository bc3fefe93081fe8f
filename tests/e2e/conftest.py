"""End-to-end tests: Debian's Chromium driven by Playwright against a live server.

The browser resolves every *.<base domain> name to the live server's loopback address, so
requests carry real orchestra hosts (goteborg.stagesub.test:PORT) through the whole stack.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("STAGESUB_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: scripts/test installs Debian's chromium")
    base = settings.BASE_DOMAIN
    # Playwright's sync API keeps an event loop in the test thread; the ORM calls the tests make
    # themselves (fixtures, assertions) are still synchronous, which Django must be told.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--host-resolver-rules=MAP *.{base} 127.0.0.1, MAP {base} 127.0.0.1",
            ],
        )
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="sv-SE")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def orchestra_url(live_server, settings):
    # The live server speaks plain HTTP; production cookies are Secure (HTTPS only).
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    port = live_server.url.rsplit(":", 1)[1]

    def url(orchestra, path="/"):
        return f"http://{orchestra.subdomain}.{settings.BASE_DOMAIN}:{port}{path}"

    return url


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url + "login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
