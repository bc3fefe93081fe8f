"""Refuse a logged-in user on a host that is not theirs (and log the attempt).

Host-only cookies already keep a Göteborg session away from Malmö; this catches the rest:
a copied cookie, a superadmin session on an orchestra host, an orchestra user on the platform.
"""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.urls import resolve, reverse

from stagesub.tenancy import audit

ALWAYS_ALLOWED = {"logout", "set_language"}


class OrchestraMembershipMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            orchestra = request.orchestra
            allowed = user.belongs_to(orchestra) if orchestra is not None else user.is_superadmin
            if not allowed and self._url_name(request) not in ALWAYS_ALLOWED:
                audit.record(
                    "session.refused_wrong_host",
                    actor=user,
                    orchestra=orchestra,
                    request=request,
                    path=request.path[:200],
                )
                return render(request, "accounts/wrong_host.html", status=403)
        return self.get_response(request)

    @staticmethod
    def _url_name(request) -> str | None:
        try:
            return resolve(request.path_info, getattr(request, "urlconf", None)).url_name
        except Exception:
            return None


# Pages a user who must set up a second factor can still reach.
ENROLMENT_ALLOWED = ALWAYS_ALLOWED | {"second_factor"}


class SecondFactorMiddleware:
    """A logged-in user who must use a second factor and whose session is not verified by one
    reaches only the enrolment page: the console (or the orchestra) opens after it.

    Users with a device are verified at login (password, then code), so an unverified session
    here is one without a device: a superadmin or a required admin who has yet to enrol.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from stagesub.accounts import second_factor

        user = request.user
        if (
            user.is_authenticated
            and user.role != user.Role.MEMBER
            and not user.is_verified()
            and second_factor.required_for(user)
            and OrchestraMembershipMiddleware._url_name(request) not in ENROLMENT_ALLOWED
        ):
            return redirect(f"{reverse('accounts:second_factor')}?required=1")
        return self.get_response(request)
