from django.urls import path, re_path

from stagesub.api.views import api, problem

urlpatterns = [
    path("api/v1/", api.urls),
    # Anything else under /api/ answers in the API's own error format, not an HTML page.
    re_path(r"^api/", lambda request: problem(404, "Not found"), name="api_not_found"),
]
