"""Invitations: host-bound, expiring, single use (under concurrency), refused for an address
that already has an account; mail through a real SMTP server on loopback."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connections as django_connections
from django.utils import timezone

from stagesub.accounts import invitations
from stagesub.accounts.models import Invitation
from tests.conftest import host_client, login

User = get_user_model()
NEW_PASSWORD = "a-fresh-colleague-passphrase"


def _link(mail_server, address: str) -> str:
    (message,) = mail_server.to(address)
    return re.search(r"https?://\S+/invitation/\S+/", mail_server.text(message)).group(0)


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def _accept(client, path, username="eva", password=NEW_PASSWORD):
    return client.post(path, {"username": username, "password1": password, "password2": password})


def test_an_admin_invites_a_colleague_who_logs_in_with_the_chosen_role(goteborg, mail_server):
    admin = login(goteborg, "goteborg-admin")
    response = admin.post("/users/", {"email": "eva@example.se", "role": "member"})
    assert response.status_code == 302
    link = _link(mail_server, "eva@example.se")
    assert link.split("/")[2].startswith("goteborg.") and "Göteborgs Symfoniker" in (
        mail_server.text(mail_server.to("eva@example.se")[0])
    )
    client = host_client(goteborg)
    page = client.get(_path(link))
    assert page.status_code == 200 and "eva@example.se" in page.content.decode()
    assert _accept(client, _path(link)).status_code == 302
    eva = User.objects.get(username="eva")
    assert (eva.role, eva.orchestra_id, eva.email) == ("member", goteborg.pk, "eva@example.se")
    colleague = login(goteborg, "eva", NEW_PASSWORD)
    assert colleague.get("/projects/").status_code == 200
    assert colleague.get("/users/").status_code == 403  # a member manages no users
    # Used once: the link now says so, and creates nothing.
    again = _accept(host_client(goteborg), _path(link), username="eva2")
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert not User.objects.filter(username="eva2").exists()


def test_the_link_works_only_on_the_host_it_was_issued_for(goteborg, malmo, mail_server):
    login(goteborg, "goteborg-admin").post("/users/", {"email": "eva@example.se", "role": "admin"})
    path = _path(_link(mail_server, "eva@example.se"))
    for client in (host_client(malmo), host_client()):
        refused = _accept(client, path)
        assert refused.status_code == 410 and "another address" in refused.content.decode()
    assert not User.objects.filter(email="eva@example.se").exists()
    assert Invitation.objects.get().accepted_at is None


def test_an_expired_invitation_is_refused(goteborg, mail_server):
    login(goteborg, "goteborg-admin").post("/users/", {"email": "eva@example.se", "role": "member"})
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = _accept(host_client(goteborg), _path(_link(mail_server, "eva@example.se")))
    assert refused.status_code == 410 and "expired" in refused.content.decode()
    assert not User.objects.filter(email="eva@example.se").exists()


def test_an_address_with_an_account_anywhere_is_refused_by_name(goteborg, malmo, mail_server):
    admin = login(goteborg, "goteborg-admin")
    # Malmö's admin already has an account: inviting that address to Göteborg says so.
    response = admin.post("/users/", {"email": "ADMIN@malmo.example.org", "role": "member"})
    page = response.content.decode()
    assert response.status_code == 400 and "already has a StageSub account" in page
    assert 'data-testid="error-summary"' in page
    assert Invitation.objects.count() == 0 and mail_server.received == []


def test_a_mail_failure_leaves_no_invitation(goteborg, mail_server):
    mail_server.refuse.add("eva@example.se")
    response = login(goteborg, "goteborg-admin").post(
        "/users/", {"email": "eva@example.se", "role": "member"}
    )
    assert response.status_code == 400 and "could not be e-mailed" in response.content.decode()
    assert Invitation.objects.count() == 0


def test_bad_input_gets_field_errors_and_writes_nothing(goteborg, mail_server):
    admin = login(goteborg, "goteborg-admin")
    for data in ({"email": "a b@c.se", "role": "member"}, {"email": "x@y.se", "role": "owner"}):
        assert admin.post("/users/", data).status_code == 400
    login(goteborg, "goteborg-admin").post("/users/", {"email": "eva@example.se", "role": "member"})
    path = _path(_link(mail_server, "eva@example.se"))
    weak = _accept(host_client(goteborg), path, password="short")
    taken = _accept(host_client(goteborg), path, username="goteborg-admin")
    assert weak.status_code == taken.status_code == 400
    assert "username is taken" in taken.content.decode()
    assert Invitation.objects.get().accepted_at is None


def test_superadmins_invite_superadmins_on_the_platform_host(superadmin, goteborg, mail_server):
    invitations.invite(
        email="ops@example.org", role="superadmin", orchestra=None, invited_by=superadmin
    )
    path = _path(_link(mail_server, "ops@example.org"))
    assert _accept(host_client(goteborg), path).status_code == 410  # not on an orchestra host
    assert _accept(host_client(), path, username="ops").status_code == 302
    assert User.objects.get(username="ops").is_superadmin


@pytest.mark.django_db(transaction=True)
def test_a_link_used_twice_at_the_same_moment_creates_one_account(make_orchestra, mail_server):
    orchestra = make_orchestra()
    admin = User.objects.get(orchestra=orchestra, role="admin")
    invitations.invite(email="eva@example.se", role="member", orchestra=orchestra, invited_by=admin)
    token = _link(mail_server, "eva@example.se").rstrip("/").rsplit("/", 1)[1]
    barrier = threading.Barrier(4)
    created, refused, errors = [], [], []

    def use(n):
        try:
            barrier.wait()
            account = invitations.NewAccount(username=f"eva{n}", password=NEW_PASSWORD)
            created.append(invitations.accept(token, orchestra, account))
        except invitations.InvitationUnusable:
            refused.append(n)
        except Exception as error:
            errors.append(error)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=use, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(created) == 1 and len(refused) == 3
    assert User.objects.filter(email="eva@example.se").count() == 1
    assert Invitation.objects.get().accepted_user_id == created[0].pk
