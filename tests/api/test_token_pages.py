"""Admins create a token (shown once, stored hashed) and revoke it; members cannot."""

from django.contrib.auth import get_user_model

from stagesub.api.models import ApiToken
from stagesub.tenancy import use_orchestra
from tests.api.helpers import api_client
from tests.conftest import PASSWORD, login


def test_an_admin_creates_a_token_that_is_shown_once_and_revokes_it(goteborg):
    admin = login(goteborg, "goteborg-admin")
    page = admin.post("/api-tokens/", {"name": "Lönesystem", "write": "on"})
    assert page.status_code == 200
    raw = page.context["created"]
    assert raw.startswith("ss_goteborg_") and raw in page.content.decode()
    assert raw not in admin.get("/api-tokens/").content.decode()
    with use_orchestra(goteborg):
        token = ApiToken.objects.get()
        assert token.can_write and token.name == "Lönesystem"
    assert api_client(goteborg, raw).get("/api/v1/projects").status_code == 200
    confirm = admin.get(f"/api-tokens/{token.pk}/revoke/")
    assert confirm.status_code == 200 and "Lönesystem" in confirm.content.decode()
    assert admin.post(f"/api-tokens/{token.pk}/revoke/").status_code == 302
    assert api_client(goteborg, raw).get("/api/v1/projects").status_code == 401


def test_a_nameless_token_is_refused_next_to_the_field(goteborg):
    page = login(goteborg, "goteborg-admin").post("/api-tokens/", {"name": ""})
    assert page.status_code == 400 and page.context["created"] is None
    with use_orchestra(goteborg):
        assert not ApiToken.objects.exists()


def test_members_cannot_manage_tokens(goteborg):
    get_user_model().objects.create_user(
        "member", email="m@g.example.org", password=PASSWORD, role="member", orchestra=goteborg
    )
    member = login(goteborg, "member")
    assert member.post("/api-tokens/", {"name": "x"}).status_code == 403
    with use_orchestra(goteborg):
        assert not ApiToken.objects.exists()
