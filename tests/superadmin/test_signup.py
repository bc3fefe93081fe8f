"""Self-service signup: off by default; confirm by a signed, expiring link; provisioning by the
worker; a one-time, host-bound login link (never a password in mail); refusals, rate limits and
expiry; every step audited. Mail goes through a real SMTP server on loopback."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import signing
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.utils import timezone

from stagesub.accounts.models import User
from stagesub.superadmin import signup
from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.signup_models import SignupRequest
from stagesub.tenancy.models import AuditEvent, IsolationIncident, Orchestra
from tests.conftest import host_client, host_for

FORM = {
    "orchestra_name": "Uppsala Kammarorkester",
    "subdomain": "uppsala",
    "contact_name": "Eva Ek",
    "email": "eva@uppsala.example.org",
}
NEW_PASSWORD = "a-long-and-fine-passphrase-42"


@pytest.fixture
def enabled(settings, db):
    settings.SIGNUP_ENABLED = True
    return settings


def _link(message, path: str) -> str:
    from tests.mailserver import MailServer

    text = MailServer.text(message)
    found = re.search(r"https?://[^\s]+" + re.escape(path) + r"[^\s]+/", text)
    assert found, text
    return found.group(0)


def _path_and_host(url: str) -> tuple[str, str]:
    host_and_path = url.split("://", 1)[1]
    host, path = host_and_path.split("/", 1)
    return "/" + path, host.split(":")[0]


def test_off_by_default(db, settings):
    assert settings.SIGNUP_ENABLED is False
    client = host_client()
    assert client.get("/signup/").status_code == 404
    assert client.post("/signup/", FORM).status_code == 404
    assert client.get("/signup/confirm/anything/").status_code == 404
    assert not SignupRequest.objects.exists()


def test_the_landing_page_links_to_signup_only_when_enabled(db, settings):
    assert 'href="/signup/"' not in host_client().get("/").content.decode()
    settings.SIGNUP_ENABLED = True
    assert 'href="/signup/"' in host_client().get("/").content.decode()


def test_not_on_an_orchestra_host(enabled, goteborg):
    assert host_client(goteborg).get("/signup/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_whole_signup_through_a_real_mail_server(enabled, mail_server, malmo):
    client = host_client()
    page = client.get("/signup/")
    assert page.status_code == 200 and "Orchestra name" in page.content.decode()
    response = client.post("/signup/", FORM, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200 and "Check your e-mail" in response.content.decode()
    (mail,) = mail_server.to(FORM["email"])
    confirm_url = _link(mail, "/signup/confirm/")
    path, host = _path_and_host(confirm_url)
    assert host == host_for()
    # Opening the link (a mail scanner does) changes nothing; the button does.
    shown = client.get(path)
    assert shown.status_code == 200 and "uppsala" in shown.content.decode()
    assert SignupRequest.objects.get().status == "pending"
    confirmed = client.post(path)
    assert confirmed.status_code == 200
    assert SignupRequest.objects.get().status == "confirmed"
    assert client.post(path).status_code == 409  # once
    call_command("worker", "--once")
    request = SignupRequest.objects.get()
    assert request.status == "provisioned", request.error
    orchestra = Orchestra.objects.get(subdomain="uppsala")
    assert orchestra.status == "active" and orchestra.plan == "small"
    admin = User.objects.get(orchestra=orchestra)
    assert admin.role == "admin" and not admin.has_usable_password()
    job = ProvisioningJob.objects.get(subdomain="uppsala")
    assert job.admin_password_encrypted == "" and job.password_shown
    first, welcome_mail = mail_server.to(FORM["email"])
    assert first is mail
    text = mail_server.text(welcome_mail)
    assert "uppsala-admin" in text and "password" not in text.split("uppsala-admin")[1][:20]
    welcome_url = _link(welcome_mail, "/welcome/")
    path, host = _path_and_host(welcome_url)
    assert host == host_for(orchestra)
    # Host-bound: the same path on another orchestra's host or the platform gives nothing.
    assert host_client(malmo).get(path).status_code == 404
    assert host_client().get(path).status_code == 404
    new_admin = host_client(orchestra)
    assert new_admin.get(path).status_code == 200
    weak = new_admin.post(path, {"new_password1": "abc", "new_password2": "abc"})
    assert weak.status_code == 400 and "error-summary" in weak.content.decode()
    done = new_admin.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/"
    assert new_admin.get("/").status_code == 200  # logged in
    admin.refresh_from_db()
    assert admin.check_password(NEW_PASSWORD)
    # One-time: the link is void once the password is set.
    again = host_client(orchestra).get(path)
    assert again.status_code == 410 and "used already" in again.content.decode()
    fresh = host_client(orchestra)
    assert (
        fresh.post("/login/", {"username": "uppsala-admin", "password": NEW_PASSWORD}).status_code
        == 302
    )
    events = list(
        AuditEvent.objects.filter(action__startswith="signup.")
        .order_by("at")
        .values_list("action", flat=True)
    )
    assert events == [
        "signup.requested",
        "signup.confirmed",
        "signup.provisioned",
        "signup.password_set",
    ]
    assert AuditEvent.objects.get(action="signup.requested").ip == "198.51.100.7"


def test_superadmins_see_the_signups(enabled, console_client):
    SignupRequest.objects.create(
        orchestra_name="Visby Blåsare",
        subdomain="visby",
        contact_name="Ola",
        email="ola@visby.example.org",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    page = console_client.get("/superadmin/signups/").content.decode()
    assert "Visby Blåsare" in page and "ola@visby.example.org" in page


@pytest.fixture
def console_client(superadmin):
    from tests.conftest import PASSWORD

    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("orchestra_name", "Uppsala\r\nBcc: all@example.org", "line breaks"),
        ("contact_name", "Eva\nEk", "line breaks"),
        ("orchestra_name", "Upp\u202esala", "line breaks"),
        ("email", "eva@upp\nsala.se", "line breaks"),
        ("email", "a b@c.se", "valid e-mail"),
        ("subdomain", "Bad Name!", "lower-case"),
        ("subdomain", "-uppsala", "lower-case"),
        ("subdomain", "www", "reserved"),
        ("subdomain", "goteborg", "taken"),
    ],
)
def test_bad_input_is_refused_next_to_the_field_and_nothing_written(
    enabled, mail_server, goteborg, field, value, message
):
    response = host_client().post("/signup/", {**FORM, field: value})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert "error-summary" in response.content.decode()
    assert not SignupRequest.objects.exists() and not mail_server.received
    assert not AuditEvent.objects.filter(action__startswith="signup.").exists()


def test_refused_while_an_isolation_incident_is_open(enabled, mail_server):
    incident = IsolationIncident.objects.create(summary="shared database x: a, b")
    response = host_client().post("/signup/", FORM)
    assert response.status_code == 503
    assert "cannot be created right now" in response.content.decode()
    assert "shared database" not in response.content.decode()
    assert not SignupRequest.objects.exists() and not mail_server.received
    # ... and a confirmation that arrives while one is open queues nothing.
    incident.resolved_at = timezone.now()
    incident.save()
    assert host_client().post("/signup/", FORM).status_code == 200
    IsolationIncident.objects.create(summary="another one")
    token = signup.confirmation_token(SignupRequest.objects.get())
    assert host_client().post(f"/signup/confirm/{token}/").status_code == 503
    assert not ProvisioningJob.objects.exists()


def test_rate_limited_per_client_address(enabled, mail_server):
    enabled.SIGNUP_PER_ADDRESS_PER_HOUR = 2
    client = host_client()
    for i in range(2):
        form = {**FORM, "subdomain": f"orch{i}", "email": f"e{i}@x.example.org"}
        assert client.post("/signup/", form, REMOTE_ADDR="203.0.113.5").status_code == 200
    refused = client.post(
        "/signup/", {**FORM, "email": "e9@x.example.org"}, REMOTE_ADDR="203.0.113.5"
    )
    assert (
        refused.status_code == 429
        and "Too many signups from your address" in refused.content.decode()
    )
    assert client.post("/signup/", FORM, REMOTE_ADDR="203.0.113.6").status_code == 200
    # An hour later the address may sign up again.
    AuditEvent.objects.filter(action="signup.requested").update(
        at=timezone.now() - timedelta(minutes=61)
    )
    assert (
        client.post(
            "/signup/", {**FORM, "email": "e8@x.example.org"}, REMOTE_ADDR="203.0.113.5"
        ).status_code
        == 200
    )
    assert SignupRequest.objects.count() == 4


def test_rate_limited_per_email_address_whatever_the_client_address(enabled, mail_server):
    enabled.SIGNUP_PER_EMAIL_PER_DAY = 2
    client = host_client()
    for i in range(2):
        assert client.post("/signup/", FORM, REMOTE_ADDR=f"203.0.113.{i}").status_code == 200
    refused = client.post(
        "/signup/", {**FORM, "email": FORM["email"].upper()}, REMOTE_ADDR="203.0.113.99"
    )
    assert refused.status_code == 429 and "this e-mail address" in refused.content.decode()
    assert len(mail_server.to(FORM["email"])) == 2


def _pending(**extra) -> SignupRequest:
    return SignupRequest.objects.create(
        orchestra_name="Uppsala",
        subdomain="uppsala",
        contact_name="Eva",
        email="eva@uppsala.example.org",
        expires_at=timezone.now() + timedelta(hours=24),
        **extra,
    )


def test_confirmation_links_expire_and_cannot_be_forged(enabled, settings):
    request = _pending()
    token = signup.confirmation_token(request)
    client = host_client()
    assert client.get(f"/signup/confirm/{token[:-2]}xx/").status_code == 404
    other_salt = signing.dumps(str(request.pk), salt="stagesub.signup.welcome", compress=True)
    assert client.get(f"/signup/confirm/{other_salt}/").status_code == 404
    settings.SIGNUP_CONFIRM_HOURS = -1  # every link is older than that
    response = client.post(f"/signup/confirm/{token}/")
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert SignupRequest.objects.get().status == "pending"
    assert not ProvisioningJob.objects.exists()


def test_a_subdomain_taken_meanwhile_is_refused_at_confirmation(enabled, goteborg):
    request = _pending()
    Orchestra.objects.filter(pk=goteborg.pk).update(subdomain="uppsala")
    response = host_client().post(f"/signup/confirm/{signup.confirmation_token(request)}/")
    assert response.status_code == 409 and "taken meanwhile" in response.content.decode()
    assert not ProvisioningJob.objects.exists()


def test_the_worker_removes_expired_pending_signups(enabled):
    old = _pending()
    SignupRequest.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    live = SignupRequest.objects.create(
        orchestra_name="Visby",
        subdomain="visby",
        contact_name="Ola",
        email="ola@visby.example.org",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    done = SignupRequest.objects.create(
        orchestra_name="Lund",
        subdomain="lund",
        contact_name="Li",
        email="li@lund.example.org",
        status="confirmed",
        expires_at=timezone.now() - timedelta(hours=1),
    )
    assert signup.expire_pending() == "1 unconfirmed signups removed"
    assert set(SignupRequest.objects.values_list("pk", flat=True)) == {live.pk, done.pk}
    assert AuditEvent.objects.get(action="signup.expired").details["subdomain"] == "uppsala"


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_queue_one_job(enabled):
    request = _pending()
    token = signup.confirmation_token(request)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def confirm() -> None:
        try:
            barrier.wait()
            statuses.append(host_client().post(f"/signup/confirm/{token}/").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    assert sorted(statuses) == [200, 409]
    assert ProvisioningJob.objects.count() == 1
    assert AuditEvent.objects.filter(action="signup.confirmed").count() == 1


def test_welcome_link_expires(enabled, make_orchestra, settings):
    orchestra = make_orchestra("uppsala")
    admin = User.objects.get(orchestra=orchestra)
    admin.set_unusable_password()
    admin.save()
    token = signup.welcome_token(admin)
    assert host_client(orchestra).get(f"/welcome/{token}/").status_code == 200
    settings.SIGNUP_LOGIN_LINK_HOURS = -1
    response = host_client(orchestra).get(f"/welcome/{token}/")
    assert response.status_code == 410 and "expired" in response.content.decode()


def test_a_subdomain_being_created_for_another_signup_is_refused_at_confirmation(enabled):
    first = _pending()
    second = _pending()
    signup.confirm(signup.confirmation_token(first), request=None)
    response = host_client().post(f"/signup/confirm/{signup.confirmation_token(second)}/")
    assert response.status_code == 409 and "taken meanwhile" in response.content.decode()
    assert ProvisioningJob.objects.count() == 1


def test_a_failed_provisioning_is_recorded_and_mails_no_link(enabled, mail_server):
    request = _pending()
    signup.confirm(signup.confirmation_token(request), request=None)
    Orchestra.objects.create(subdomain="uppsala", name="Taken meanwhile", status="active")
    from stagesub.superadmin.services import run_job

    request.refresh_from_db()
    run_job(request.job_id)
    signup.finish(str(request.pk))
    request.refresh_from_db()
    assert request.status == "failed" and request.error
    assert AuditEvent.objects.filter(action="signup.failed").exists()
    (mail,) = mail_server.received
    text = mail_server.text(mail)
    assert "could not create" in text and "/welcome/" not in text
    assert "Taken meanwhile" not in text and "IntegrityError" not in text


@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_from_one_address_do_not_overrun_the_limit(enabled, mail_server):
    enabled.SIGNUP_PER_ADDRESS_PER_HOUR = 2
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def post(i: int) -> None:
        try:
            barrier.wait()
            form = {**FORM, "subdomain": f"orch{i}", "email": f"e{i}@x.example.org"}
            response = host_client().post("/signup/", form, REMOTE_ADDR="203.0.113.5")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    assert sorted(statuses) == [200, 200, 429, 429, 429, 429]
    assert SignupRequest.objects.count() == 2
