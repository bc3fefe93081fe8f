import functools

from django.http import Http404
from django.urls import path, re_path

from stagesub.api.admin_views import token_list, token_revoke
from stagesub.api.views import PROBLEM, api, problem


def _problem_for_405(view):
    # ninja answers a wrong method (and its bare root) in plain text; the API speaks
    # problem+json throughout.
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return problem(404, "Not found")
        if response.status_code == 405:
            return problem(405, "Method not allowed", Allow=response["Allow"])
        if response.status_code == 404 and response.get("Content-Type") != PROBLEM:
            return problem(404, "Not found")
        return response

    return wrapped


patterns, ninja_app, ninja_namespace = api.urls
for pattern in patterns:
    pattern.callback = _problem_for_405(pattern.callback)

urlpatterns = [
    path("api-tokens/", token_list, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", token_revoke, name="api_token_revoke"),
    path("api/v1/", (patterns, ninja_app, ninja_namespace)),
    # Anything else under /api/ answers in the API's own error format, not an HTML page.
    re_path(r"^api/", lambda request: problem(404, "Not found"), name="api_not_found"),
]
