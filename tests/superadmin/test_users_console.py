"""The console's users page: every orchestra's staff, deactivate, reset link by e-mail only,
superadmin invitations; nobody but a superadmin gets anything from it."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model

from tests.conftest import PASSWORD, host_client, login

User = get_user_model()


def test_lists_staff_of_every_orchestra_and_acts_on_them(superadmin, goteborg, malmo, mail_server):
    console = login(None, "root")
    page = console.get("/superadmin/users/").content.decode()
    assert "goteborg-admin" in page and "malmo-admin" in page and PASSWORD not in page
    filtered = console.get("/superadmin/users/?q=malmo").content.decode()
    assert "malmo-admin" in filtered and "goteborg-admin" not in filtered
    target = User.objects.get(username="malmo-admin")
    console.post(f"/superadmin/users/{target.pk}/action/", {"action": "reset"})
    (message,) = mail_server.to("admin@malmo.example.org")
    link = re.search(r"https?://\S+/password-reset/\S+/", mail_server.text(message)).group(0)
    assert link.split("/")[2].startswith("malmo.")
    # The link works on Malmö's host only.
    path = "/" + link.split("/", 3)[3]
    assert "reset-link-invalid" in host_client(goteborg).get(path, follow=True).content.decode()
    assert "reset-link-invalid" not in host_client(malmo).get(path, follow=True).content.decode()
    second = User.objects.create_user(
        "ola", email="ola@g.se", password=PASSWORD, role="member", orchestra=goteborg
    )
    console.post(f"/superadmin/users/{second.pk}/action/", {"action": "deactivate"})
    assert not User.objects.get(pk=second.pk).is_active
    assert (
        console.post(
            f"/superadmin/users/{superadmin.pk}/action/", {"action": "deactivate"}
        ).status_code
        == 404
    )


def test_invites_a_superadmin(superadmin, mail_server):
    console = login(None, "root")
    assert console.post("/superadmin/users/", {"email": "ops@example.org"}).status_code == 302
    assert "/invitation/" in mail_server.text(mail_server.to("ops@example.org")[0])
    taken = console.post("/superadmin/users/", {"email": "root@example.org"})
    assert taken.status_code == 400 and "already has a StageSub account" in taken.content.decode()


def test_nobody_else_gets_anything(goteborg):
    member = User.objects.create_user(
        "m", email="m@g.se", password=PASSWORD, role="member", orchestra=goteborg
    )
    assert host_client().get("/superadmin/users/").status_code == 302
    assert login(goteborg, "goteborg-admin").get("/superadmin/users/").status_code == 404
    assert login(goteborg, "m").post(f"/superadmin/users/{member.pk}/action/").status_code == 404
