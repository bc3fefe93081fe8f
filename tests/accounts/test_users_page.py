"""The orchestra's users page (role, deactivate, never the last admin) and add_staff."""

from __future__ import annotations

import io
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connections as django_connections

from stagesub.accounts import staff
from tests.conftest import PASSWORD, host_client, login

User = get_user_model()


@pytest.fixture
def colleague(goteborg):
    return User.objects.create_user(
        "eva", email="eva@g.se", password=PASSWORD, role="member", orchestra=goteborg
    )


def test_lists_colleagues_with_role_and_last_login(goteborg, colleague):
    login(goteborg, "eva")
    page = login(goteborg, "goteborg-admin").get("/users/").content.decode()
    assert (
        'data-testid="colleague-eva"' in page
        and "Member" in page
        and "never" not in page.split('data-testid="colleague-eva"')[1].split("</tr>")[0]
    )


def test_role_change_deactivation_and_reactivation(goteborg, colleague):
    admin = login(goteborg, "goteborg-admin")
    eva = login(goteborg, "eva")
    admin.post("/users/action/", {"action": "role", "user": colleague.pk, "role": "admin"})
    assert eva.get("/settings/").status_code == 200
    admin.post("/users/action/", {"action": "deactivate", "user": colleague.pk})
    assert eva.get("/projects/").status_code == 302  # the session stops working at once
    assert (
        host_client(goteborg).post("/login/", {"username": "eva", "password": PASSWORD}).status_code
        == 200
    )
    admin.post("/users/action/", {"action": "reactivate", "user": colleague.pk})
    login(goteborg, "eva")


def test_not_yourself_and_never_the_last_admin(goteborg, colleague, malmo):
    admin_user = User.objects.get(username="goteborg-admin")
    admin = login(goteborg, "goteborg-admin")
    page = admin.post(
        "/users/action/", {"action": "deactivate", "user": admin_user.pk}, follow=True
    ).content.decode()
    assert "cannot change your own account" in page
    with pytest.raises(Exception, match="last active administrator"):
        staff.set_active(goteborg, admin_user.pk, False, actor=colleague)
    # Another orchestra's user is not reachable from here.
    other = User.objects.get(orchestra=malmo)
    admin.post("/users/action/", {"action": "deactivate", "user": other.pk})
    other.refresh_from_db()
    assert other.is_active and User.objects.get(pk=admin_user.pk).is_active
    assert admin.post("/users/action/", {"action": "deactivate", "user": "x"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(make_orchestra):
    orchestra = make_orchestra()
    first = User.objects.get(orchestra=orchestra)
    second = User.objects.create_user(
        "second", email="s@x.se", password=PASSWORD, role="admin", orchestra=orchestra
    )
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(actor, target):
        try:
            barrier.wait()
            staff.change_role(orchestra, target.pk, "member", actor=actor)
            outcomes.append("done")
        except Exception as error:
            outcomes.append(str(error))
        finally:
            django_connections.close_all()

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o == "done" for o in outcomes) == [False, True], outcomes
    assert User.objects.filter(orchestra=orchestra, role="admin", is_active=True).count() == 1


def test_add_staff_command(goteborg, monkeypatch):
    out = io.StringIO()
    monkeypatch.delenv("STAGESUB_ADMIN_PASSWORD", raising=False)
    call_command("add_staff", "goteborg", "--email", "ola@g.se", "--role", "member", stdout=out)
    password = out.getvalue().split("Password (shown once): ")[1].strip()
    login(goteborg, "ola@g.se", password)
    monkeypatch.setenv("STAGESUB_ADMIN_PASSWORD", "a-password-from-the-environment")
    out = io.StringIO()
    call_command(
        "add_staff",
        "goteborg",
        "--email",
        "kim@g.se",
        "--role",
        "admin",
        "--username",
        "kim",
        stdout=out,
    )
    assert "shown once" not in out.getvalue()
    assert (
        login(goteborg, "kim", "a-password-from-the-environment").get("/settings/").status_code
        == 200
    )
    with pytest.raises(CommandError, match="already has a StageSub account"):
        call_command("add_staff", "goteborg", "--email", "OLA@g.se", "--role", "member")
    with pytest.raises(CommandError, match="No active orchestra"):
        call_command("add_staff", "nowhere", "--email", "x@g.se", "--role", "member")
