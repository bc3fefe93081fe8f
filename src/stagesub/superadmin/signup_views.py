"""Self-service signup pages (public, platform host), the new admin's first login (public,
orchestra host) and the superadmins' list of signups (console)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from stagesub.superadmin import signup
from stagesub.superadmin.signup_forms import SignupForm
from stagesub.superadmin.signup_models import SignupRequest
from stagesub.superadmin.views import superadmin_required
from stagesub.tenancy import audit
from stagesub.web.paging import page_of


def _enabled() -> None:
    if not settings.SIGNUP_ENABLED:
        raise Http404


# Deliberately public: anyone may apply; nothing is created before the address is confirmed.
def signup_form(request):
    _enabled()
    form = SignupForm(request.POST or None, base_domain=settings.BASE_DOMAIN)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                signup.apply(form.application(), request=request)
            except signup.SignupRefused as exc:
                form.add_error(None, str(exc))
                status = exc.status
            else:
                return render(request, "signup/sent.html", {"email": form.cleaned_data["email"]})
        else:
            status = 400
    return render(
        request,
        "signup/form.html",
        {"form": form, "error_forms": [form] if form.errors else []},
        status=status,
    )


# Deliberately public: the signed link from the confirmation e-mail is the credential. GET only
# shows what will be created (mail scanners open links); the button posts the confirmation.
@never_cache
def signup_confirm(request, token):
    _enabled()
    try:
        if request.method == "POST":
            pending = signup.confirm(token, request=request)
            return render(request, "signup/confirmed.html", {"signup": pending})
        pending = signup.signup_for_token(token)
    except signup.SignupRefused as exc:
        return render(request, "signup/refused.html", {"reason": str(exc)}, status=exc.status)
    return render(
        request,
        "signup/confirm.html",
        {"signup": pending, "domain": settings.BASE_DOMAIN},
    )


# Deliberately public, on the orchestra's host: the one-time link from the welcome e-mail is the
# credential; it names this orchestra's new admin and is refused on any other host.
@never_cache
def welcome(request, token):
    try:
        user = signup.user_for_welcome_token(token, request.orchestra)
    except signup.SignupRefused as exc:
        return render(request, "signup/refused.html", {"reason": str(exc)}, status=exc.status)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit.record(
            "signup.password_set", actor=user, orchestra=request.orchestra, request=request
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Your password is set."))
        return redirect("/")
    return render(
        request,
        "signup/welcome.html",
        {"form": form, "who": user, "error_forms": [form] if form.errors else []},
        status=400 if form.errors else 200,
    )


@superadmin_required
def signup_list(request):
    page, keep = page_of(request, SignupRequest.objects.select_related("job__orchestra"))
    return render(
        request,
        "superadmin/fleet/signups.html",
        {"page": page, "keep": keep, "enabled": settings.SIGNUP_ENABLED},
    )
