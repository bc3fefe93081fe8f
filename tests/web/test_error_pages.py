"""The 500 page works when nothing else does: no database, no request context."""

from django.test import RequestFactory

from stagesub.web.views import server_error


def test_the_500_page_renders_without_any_database_access():
    # No django_db mark: pytest-django refuses every database access in this test.
    request = RequestFactory().get("/", HTTP_HOST="goteborg.stagesub.test")
    request.request_id = "abc123"
    response = server_error(request)
    body = response.content.decode()
    assert response.status_code == 500
    assert "Något gick fel" in body and "Something went wrong" in body
    assert "abc123" in body
    assert "<script" not in body and "<style" not in body
