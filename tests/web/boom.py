"""Test-only: a view that fails, reachable on an orchestra's host. Never part of the product."""

from django.urls import path

from stagesub.tenancy.context import current_binding
from stagesub.urls_orchestra import handler500  # noqa: F401
from stagesub.urls_orchestra import urlpatterns as orchestra_urlpatterns


class BoomError(RuntimeError):
    pass


def boom(request):
    raise BoomError(f"boom in {current_binding().subdomain}")


urlpatterns = [path("boom/", boom), *orchestra_urlpatterns]


class BoomUrlconfMiddleware:
    """Placed after the routing middleware: the orchestra's URLs plus /boom/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.orchestra is not None:
            request.urlconf = __name__
        return self.get_response(request)
