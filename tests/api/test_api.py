"""The JSON API: tokens bound to their orchestra's host, reads, the request round, errors."""

from __future__ import annotations

import datetime

from django.core.management import call_command
from django.utils import timezone

from stagesub.api.models import ApiToken
from stagesub.offers.models import Offer
from stagesub.tenancy import use_orchestra
from tests.api.helpers import api_client, token_for
from tests.conftest import host_client, listed_musicians
from tests.offers.test_flow import make_need


def test_command_prints_a_token_that_reads_musicians_and_stores_only_its_hash(goteborg, capsys):
    call_command("api_token", "goteborg", "--name", "Planning")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("ss_goteborg_")
    with use_orchestra(goteborg):
        listed_musicians(3)
        token = ApiToken.objects.get()
        assert raw not in token.digest and not token.can_write and token.last_used_at is None
    response = api_client(goteborg, raw).get("/api/v1/musicians")
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert [m["first_name"] for m in items] == ["M00", "M01", "M02"]
    assert items[0]["qualifications"]
    with use_orchestra(goteborg):
        assert ApiToken.objects.get().last_used_at is not None


def test_a_token_of_one_orchestra_is_refused_on_every_other_host(goteborg, malmo):
    malmo_token = token_for(malmo)
    for path in ("/api/v1/musicians", "/api/v1/projects", "/api/v1/offers"):
        response = api_client(goteborg, malmo_token).get(path)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
    # A token made in Malmö's database but carrying Göteborg's name is not in Göteborg's database.
    with use_orchestra(malmo):
        from stagesub.api.tokens import create_token

        _token, forged = create_token("goteborg", "forged")
    assert api_client(goteborg, forged).get("/api/v1/musicians").status_code == 401
    assert api_client(malmo, malmo_token).get("/api/v1/musicians").status_code == 200


def test_missing_revoked_and_expired_tokens_are_refused(goteborg):
    raw = token_for(goteborg)
    assert host_client(goteborg).get("/api/v1/musicians").status_code == 401
    client = api_client(goteborg, raw)
    assert client.get("/api/v1/musicians").status_code == 200
    with use_orchestra(goteborg):
        ApiToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert client.get("/api/v1/musicians").status_code == 401
    with use_orchestra(goteborg):
        from stagesub.api.tokens import revoke

        ApiToken.objects.update(expires_at=None)
        revoke(ApiToken.objects.get())
    assert client.get("/api/v1/musicians").status_code == 401


def test_a_read_only_token_cannot_send(goteborg):
    need = make_need(goteborg, "sequential", 1, count=2)
    response = api_client(goteborg, token_for(goteborg)).post(f"/api/v1/needs/{need.need_id}/send")
    assert response.status_code == 403
    with use_orchestra(goteborg):
        assert not Offer.objects.exists()


def test_a_request_round_through_the_api_uses_the_staff_services(goteborg):
    need = make_need(goteborg, "sequential", 1, count=3)
    client = api_client(goteborg, token_for(goteborg, write=True, name="Planning"))
    sent = client.post(f"/api/v1/needs/{need.need_id}/send")
    assert sent.status_code == 200, sent.content
    (offer,) = sent.json()["created"]
    assert offer["status"] == "pending"
    answered = client.post(
        f"/api/v1/offers/{offer['id']}/answer", {"accepted": True}, content_type="application/json"
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == "accepted"
    again = client.post(
        f"/api/v1/offers/{offer['id']}/answer", {"accepted": True}, content_type="application/json"
    )
    assert again.status_code == 409
    with use_orchestra(goteborg):
        assert Offer.objects.get().events.filter(by="api:Planning").exists()
    listed = client.get(f"/api/v1/offers?need={need.need_id}").json()["items"]
    assert [o["status"] for o in listed] == ["accepted"]


def test_bad_bodies_get_problem_details_and_change_nothing(goteborg):
    need = make_need(goteborg, "sequential", 1, count=2)
    client = api_client(goteborg, token_for(goteborg, write=True))
    client.post(f"/api/v1/needs/{need.need_id}/send")
    with use_orchestra(goteborg):
        offer = Offer.objects.get()
    url = f"/api/v1/offers/{offer.offer_id}/answer"
    for body in ('{"accepted": tru', '{"accepted": "maybe"}', '{"accepted": true, "x": 1}', "[]"):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code in (400, 422), (body, response.status_code)
        assert response["Content-Type"] == "application/problem+json"
    with use_orchestra(goteborg):
        offer.refresh_from_db()
        assert offer.status == "pending"


def test_reads_carry_etags_and_pages_carry_a_cursor(goteborg):
    with use_orchestra(goteborg):
        listed_musicians(5)
    client = api_client(goteborg, token_for(goteborg))
    first = client.get("/api/v1/musicians?limit=2")
    assert first.status_code == 200
    assert (
        client.get("/api/v1/musicians?limit=2", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    )
    names, cursor = [], None
    while True:
        url = "/api/v1/musicians?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).json()
        names += [m["first_name"] for m in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert names == ["M00", "M01", "M02", "M03", "M04"]


def test_the_rate_limit_answers_429_with_retry_after(goteborg, settings):
    settings.API_RATE_LIMIT = 3
    client = api_client(goteborg, token_for(goteborg))
    assert [client.get("/api/v1/projects").status_code for _ in range(3)] == [200] * 3
    refused = client.get("/api/v1/projects")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused["Content-Type"] == "application/problem+json"


def test_schema_and_docs_are_served_and_unknown_api_paths_are_problems(goteborg):
    client = host_client(goteborg)
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200 and "/api/v1/musicians" in schema.json()["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger-ui-bundle.js" in docs.content
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"


def test_every_api_route_but_the_schema_refuses_a_session_without_a_token(goteborg):
    # A logged-in browser must not reach the API: its cookie would make every page a CSRF risk.
    from tests.accounts.test_role_matrix import ROUTES, _path
    from tests.conftest import login

    admin = login(goteborg, "goteborg-admin")
    checked = 0
    for name, route, _callback in ROUTES:
        if not name.startswith("api:") or name in ("api:openapi-json", "api:openapi-view"):
            continue
        path = _path(route)
        for client in (admin, host_client(goteborg)):
            for method in (client.get, client.post):
                response = method(path)
                assert response.status_code in (401, 404, 405), (name, method, response.status_code)
                assert response["Content-Type"] == "application/problem+json"
        checked += 1
    assert checked >= 8


def test_a_huge_body_is_refused_with_413_before_anything_is_read(goteborg, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    need = make_need(goteborg, "sequential", 1, count=2)
    client = api_client(goteborg, token_for(goteborg, write=True))
    client.post(f"/api/v1/needs/{need.need_id}/send")
    with use_orchestra(goteborg):
        offer = Offer.objects.get()
    body = '{"accepted": true, "pad": "' + "x" * 4096 + '"}'
    response = client.post(
        f"/api/v1/offers/{offer.offer_id}/answer", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    with use_orchestra(goteborg):
        offer.refresh_from_db()
        assert offer.status == "pending"


def test_nul_characters_and_out_of_range_cursors_are_400_not_500(goteborg):
    import base64

    client = api_client(goteborg, token_for(goteborg))
    huge = base64.urlsafe_b64encode(str(2**70).encode()).decode()
    for path in (
        "/api/v1/musicians/M%00",
        "/api/v1/offers?status=a%00",
        "/api/v1/needs?project=P%00",
        f"/api/v1/musicians?cursor={huge}",
        "/api/v1/musicians?cursor=%%%",
    ):
        response = client.get(path)
        assert response.status_code == 400, (path, response.status_code)
        assert response["Content-Type"] == "application/problem+json"


def test_a_token_naming_another_orchestra_is_refused_even_if_its_hash_is_here(goteborg):
    # Belt and braces: the subdomain in the token is checked before the lookup.
    from stagesub.api.tokens import create_token

    with use_orchestra(goteborg):
        _token, misnamed = create_token("malmo", "misnamed")
    assert api_client(goteborg, misnamed).get("/api/v1/musicians").status_code == 401
