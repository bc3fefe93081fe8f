"""Second factor (TOTP): superadmins enrol before the console opens; login is password then
code (throttled); recovery codes work once; an orchestra can require it of its admins."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import PASSWORD, host_client, login

User = get_user_model()


def code_for(user, steps_ahead: int = 0) -> str:
    """What the authenticator app shows (a later step when the current one was used)."""
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, steps_ahead):06d}"


def enrol(client, user) -> list[str]:
    page = client.get("/account/second-factor/").content.decode()
    uri = re.search(r'src="data:image/svg\+xml;charset=utf-8,([^"]+)"', page).group(1)
    svg = unquote(html.unescape(uri))
    assert svg.startswith("<svg xmlns=") and "<script" not in svg
    assert client.post("/account/second-factor/", {"code": "000000x"}).status_code == 400
    done = client.post("/account/second-factor/", {"code": code_for(user)})
    assert done.status_code == 200
    return re.findall(r"<li><code>(\w+)</code></li>", done.content.decode())


def password_step(orchestra, username):
    client = host_client(orchestra)
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    return client


@pytest.mark.second_factor
def test_the_console_opens_only_after_the_superadmin_enrols(superadmin):
    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    blocked = client.get("/superadmin/")
    assert blocked.status_code == 302 and "/account/second-factor/" in blocked["Location"]
    codes = enrol(client, superadmin)
    assert len(codes) == 10
    assert client.get("/superadmin/").status_code == 200
    # Shown once: the account page never shows them again.
    assert codes[0] not in client.get("/account/").content.decode()


@pytest.mark.second_factor
def test_login_is_password_then_code_and_recovery_codes_work_once(superadmin):
    codes = enrol(login(None, "root"), superadmin)
    client = password_step(None, "root")
    assert client.get("/superadmin/").status_code == 302  # not logged in between the steps
    assert "/login/" in client.get("/superadmin/")["Location"]
    assert client.post("/login/code/", {"code": "123456"}).status_code == 400
    assert client.post("/login/code/", {"code": code_for(superadmin, 1)}).status_code == 302
    assert client.get("/superadmin/").status_code == 200
    lost_phone = password_step(None, "root")
    assert lost_phone.post("/login/code/", {"code": codes[0]}).status_code == 302
    reused = password_step(None, "root")
    assert reused.post("/login/code/", {"code": codes[0]}).status_code == 400


def test_wrong_codes_are_throttled_like_passwords(goteborg, settings):
    settings.LOGIN_THROTTLE_ACCOUNT_ATTEMPTS = 3
    admin = User.objects.get(username="goteborg-admin")
    enrol(login(goteborg, "goteborg-admin"), admin)
    client = password_step(goteborg, "goteborg-admin")
    for _ in range(3):
        assert client.post("/login/code/", {"code": "000000"}).status_code == 400
    throttled = client.post("/login/code/", {"code": code_for(admin, 1)})
    assert throttled.status_code == 429 and "Retry-After" in throttled
    assert client.get("/projects/").status_code == 302


def test_an_orchestra_can_require_it_of_its_admins(goteborg):
    users = User.objects
    users.create_user("second", email="s@g.se", password=PASSWORD, role="admin", orchestra=goteborg)
    users.create_user(
        "member", email="m@g.se", password=PASSWORD, role="member", orchestra=goteborg
    )
    first = login(goteborg, "goteborg-admin")
    require = {"action": "require_second_factor", "required": "1"}
    first.post("/users/action/", require)
    assert "Set up your own second factor first" in first.get("/users/").content.decode()
    enrol(first, users.get(username="goteborg-admin"))
    first.post("/users/action/", require)
    assert "Required" in first.get("/users/").content.decode()
    second = login(goteborg, "second")
    assert "/account/second-factor/" in second.get("/projects/")["Location"]
    assert login(goteborg, "member").get("/projects/").status_code == 200
    # Optional for members: one turns it on and off on their own account page.
    member = login(goteborg, "member")
    enrol(member, users.get(username="member"))
    member.post("/account/second-factor/", {"action": "remove"})
    assert not TOTPDevice.objects.filter(user__username="member").exists()
    # A required admin cannot remove theirs.
    first.post("/account/second-factor/", {"action": "remove"})
    assert TOTPDevice.objects.filter(user__username="goteborg-admin").exists()
