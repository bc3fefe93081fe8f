"""`stagesub createsuperuser`: the production way to the first superadmin."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.conftest import host_client


@pytest.fixture
def superuser_env(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "operator")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.org")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-operator-passphrase")


def test_createsuperuser_noinput_makes_a_working_superadmin(db, superuser_env):
    call_command("createsuperuser", "--noinput", verbosity=0)
    user = get_user_model().objects.get(username="operator")
    assert user.role == "superadmin" and user.orchestra_id is None
    assert user.email == "ops@example.org"
    client = host_client()
    response = client.post(
        "/login/", {"username": "operator", "password": "a-long-operator-passphrase"}
    )
    assert response.status_code == 302
    assert client.get("/superadmin/").status_code == 200


def test_create_superuser_is_a_superadmin(db):
    user = get_user_model().objects.create_superuser("root2", "r@example.org", "pw-pw-pw-pw")
    assert user.is_superadmin and user.is_superuser
