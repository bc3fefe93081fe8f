"""Login and routing: the host decides, the login confirms."""

import pytest
from django.contrib.auth import get_user_model

from stagesub.tenancy.models import AuditEvent, Orchestra
from tests.conftest import PASSWORD, host_client, login


def test_orchestra_home_headed_with_its_name_after_login(goteborg):
    client = login(goteborg, "goteborg-admin")
    response = client.get("/")
    assert response.status_code == 200
    assert "<h1>Göteborgs Symfoniker</h1>" in response.content.decode()


def test_anonymous_home_redirects_to_login(goteborg):
    response = host_client(goteborg).get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_user_of_another_orchestra_refused_and_audited(goteborg, malmo):
    client = host_client(malmo)
    response = client.post("/login/", {"username": "goteborg-admin", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="login.refused_wrong_host")
    assert event.orchestra == malmo and event.actor_label == "goteborg-admin"


def test_goteborg_session_cookie_does_nothing_on_malmo(goteborg, malmo):
    goteborg_client = login(goteborg, "goteborg-admin")
    session_cookie = goteborg_client.cookies["sessionid"].value
    # Host-only cookie: the browser would not even send it; a copied cookie is still refused.
    assert goteborg_client.cookies["sessionid"]["domain"] == ""
    malmo_client = host_client(malmo)
    malmo_client.cookies["sessionid"] = session_cookie
    response = malmo_client.get("/")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="session.refused_wrong_host", orchestra=malmo).exists()


def test_superadmin_logs_in_on_bare_domain_only(goteborg, superadmin):
    response = host_client(goteborg).post("/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 200  # refused on an orchestra host
    client = host_client()
    response = client.post("/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/superadmin/").status_code == 200


def test_orchestra_admin_cannot_log_in_on_platform(goteborg):
    response = host_client().post("/login/", {"username": "goteborg-admin", "password": PASSWORD})
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="login.refused_wrong_host", orchestra=None).exists()


def test_login_throttled_after_repeated_failures(goteborg, settings):
    settings.LOGIN_THROTTLE_ACCOUNT_ATTEMPTS = 3
    client = host_client(goteborg)
    for _ in range(3):
        assert (
            client.post("/login/", {"username": "goteborg-admin", "password": "nope"}).status_code
            == 200
        )
    response = client.post("/login/", {"username": "goteborg-admin", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_logout_requires_post_and_ends_session(goteborg):
    client = login(goteborg, "goteborg-admin")
    assert client.get("/logout/").status_code == 405
    client.post("/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.argon2
def test_passwords_are_hashed_with_argon2(goteborg):
    user = get_user_model().objects.get(username="goteborg-admin")
    user.set_password("another-long-password")
    user.save()
    assert user.password.startswith("argon2$")


def test_deactivated_user_loses_access(goteborg):
    client = login(goteborg, "goteborg-admin")
    get_user_model().objects.filter(username="goteborg-admin").update(is_active=False)
    assert client.get("/").status_code == 302


def test_csrf_enforced_on_login(goteborg):
    client = host_client(goteborg, enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "goteborg-admin", "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("host", "status"),
    [("nowhere.stagesub.test", 404), ("a.goteborg.stagesub.test", 404), ("evil.com", 400)],
)
def test_unknown_hosts(goteborg, host, status):
    assert host_client().get("/", HTTP_HOST=host).status_code == status


def test_suspended_orchestra_gets_suspended_page(goteborg):
    goteborg.status = Orchestra.Status.SUSPENDED
    goteborg.save()
    response = host_client(goteborg).get("/login/")
    assert response.status_code == 403
    assert "Göteborgs Symfoniker" in response.content.decode()


def test_platform_landing_page(db):
    assert host_client().get("/").status_code == 200


def test_swedish_by_default_english_on_request(goteborg):
    client = host_client(goteborg, language=None)
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "Logga in till Göteborgs Symfoniker" in page  # Swedish unless the person chooses
    response = client.post("/language/", {"language": "en", "next": "/login/"})
    assert response["Location"] == "/login/"
    assert "Log in to Göteborgs Symfoniker" in client.get("/login/").content.decode()
    # an unknown language or a foreign redirect target is ignored
    response = client.post("/language/", {"language": "xx", "next": "https://evil.example/"})
    assert response["Location"] == "/"
