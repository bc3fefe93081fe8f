from __future__ import annotations

import math
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from stagesub.accounts import devices, invitations, second_factor, staff, throttling
from stagesub.accounts.clientaddr import client_address
from stagesub.accounts.forms import (
    AcceptInvitationForm,
    CodeForm,
    HostAuthenticationForm,
    HostPasswordResetForm,
    InvitationForm,
)
from stagesub.accounts.roles import admin_required, staff_required
from stagesub.tenancy import audit
from stagesub.validation import require_id


class ErrorSummaryMixin:
    """Puts a failed form's errors first on the page (includes/error_summary.html)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context.get("form")
        context["error_forms"] = [form] if form is not None and form.errors else []
        context["hours"] = settings.PASSWORD_RESET_TIMEOUT // 3600
        return context


# The password step's result while the code is asked for: user id, backend, when, where next.
PENDING_KEY = "stagesub_second_factor_pending"
PENDING_SECONDS = 300


class LoginView(auth_views.LoginView):
    form_class = HostAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        attempt = form.attempt
        throttling.succeeded(attempt)
        if second_factor.has_device(user):
            # The password was right; the session is not logged in until the code is.
            self.request.session.cycle_key()
            self.request.session[PENDING_KEY] = {
                "user": user.pk,
                "backend": user.backend,
                "at": time.time(),
                "next": self.get_success_url(),
            }
            response = redirect("accounts:login_code")
        else:
            audit.record(
                "login", actor=user, orchestra=self.request.orchestra, request=self.request
            )
            response = super().form_valid(form)
        devices.remember(response, attempt.device, attempt.account)
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.attempt is not None and form.attempt.throttled:
            response.status_code = 429
            response["Retry-After"] = str(form.attempt.retry_after)
        return response


class LogoutView(auth_views.LogoutView):
    template_name = "accounts/logged_out.html"
    next_page = "login"


def _pending_user(request):
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return user, pending


# Public by design: the second step of logging in, for whoever passed the password step in
# this session (nobody else has a pending user).
def login_code(request):
    user, pending = _pending_user(request)
    if user is None:
        messages.info(request, _("Log in again: the time for the code ran out."))
        return redirect("login")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        # The code has its own budget, with the password's limits, keyed by the account.
        attempt = throttling.begin(
            username=f"2fa:{user.get_username()}",
            address=client_address(request),
            device=devices.read(request),
            host=request.get_host(),
        )
        if attempt.throttled:
            throttling.note_throttled(attempt, orchestra=request.orchestra, host=request.get_host())
            minutes = math.ceil(attempt.retry_after / 60)
            form.add_error(
                None,
                ngettext(
                    "Too many wrong codes. Try again in %(minutes)d minute.",
                    "Too many wrong codes. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
            )
            response = render(request, "accounts/login_code.html", {"form": form}, status=429)
            response["Retry-After"] = str(attempt.retry_after)
            return response
        device = second_factor.verify(user, form.cleaned_data["code"])
        if device is None:
            form.add_error("code", _("That code is not right. Check the app and try again."))
            status = 400
        else:
            throttling.succeeded(attempt)
            del request.session[PENDING_KEY]
            auth_login(request, user, backend=pending["backend"])
            second_factor.otp_login(request, device)
            audit.record("login", actor=user, orchestra=request.orchestra, request=request)
            target = pending.get("next") or settings.LOGIN_REDIRECT_URL
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
                target = settings.LOGIN_REDIRECT_URL
            return redirect(target)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "accounts/login_code.html",
        {"form": form, "error_forms": [form] if form.errors else []},
        status=status,
    )


@staff_required
def account(request):
    """One's own account: password, second factor."""
    return render(
        request,
        "accounts/account.html",
        {
            "has_device": second_factor.has_device(request.user),
            "required": second_factor.required_for(request.user),
        },
    )


@staff_required
def second_factor_setup(request):
    """Set up (or replace) the authenticator; on success show the recovery codes once."""
    user = request.user
    required = second_factor.required_for(user)
    if request.method == "POST" and request.POST.get("action") == "remove":
        if required:
            messages.error(request, _("Your role requires a second factor; it cannot be removed."))
        else:
            second_factor.remove(user)
            audit.record("second_factor.removed", actor=user, orchestra=request.orchestra)
            messages.success(request, _("The second factor was turned off."))
        return redirect("accounts:account")
    if request.method == "POST" and request.POST.get("action") == "recovery":
        if not second_factor.has_device(user) or not user.is_verified():
            return HttpResponseBadRequest(_("Set up the authenticator first."))
        codes = second_factor.new_recovery_codes(user)
        return render(request, "accounts/recovery_codes.html", {"codes": codes})
    device = second_factor.pending_device(user)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        codes = second_factor.confirm(request, device, form.cleaned_data["code"])
        if codes is not None:
            audit.record("second_factor.enrolled", actor=user, orchestra=request.orchestra)
            return render(request, "accounts/recovery_codes.html", {"codes": codes})
        form.add_error(
            "code",
            _("That code is not right. Check that the phone's clock is correct and try again."),
        )
    if form.errors:
        status = 400
    return render(
        request,
        "accounts/second_factor.html",
        {
            "form": form,
            "qr": second_factor.qr_svg_data_uri(device),
            "secret": second_factor.secret_text(device),
            "required": required and not user.is_verified(),
            "error_forms": [form] if form.errors else [],
            "has_device": second_factor.has_device(user),
        },
        status=status,
    )


class PasswordChangeView(ErrorSummaryMixin, auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record("password.changed", actor=self.request.user, orchestra=self.request.orchestra)
        messages.success(self.request, _("Your password was changed."))
        return response


class PasswordResetView(ErrorSummaryMixin, auth_views.PasswordResetView):
    """Ask for a reset link. Same answer for every address (no account discovery)."""

    form_class = HostPasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "orchestra": self.request.orchestra}

    def form_valid(self, form):
        self.extra_email_context = {"orchestra": self.request.orchestra}
        return super().form_valid(form)


class PasswordResetDoneView(ErrorSummaryMixin, auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(ErrorSummaryMixin, auth_views.PasswordResetConfirmView):
    """The link from the mail. Works once (Django's token covers the password hash), before it
    expires, and only on the host of the account: elsewhere it is 'not valid'."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is None:
            return None
        orchestra = self.request.orchestra
        on_its_host = user.belongs_to(orchestra) if orchestra is not None else user.is_superadmin
        return user if on_its_host else None

    def render_to_response(self, context, **kwargs):
        if not context.get("validlink"):
            kwargs["status"] = 410  # used, expired or not this host's: the page says which
        return super().render_to_response(context, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(
            "password.reset",
            actor_label=self.user.get_username(),
            orchestra=self.request.orchestra,
            request=self.request,
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# Public by design: the invitation's secret link is the permission, checked for this host.
def invitation_accept(request, token: str):
    orchestra = request.orchestra
    try:
        invitation = invitations.find(token, orchestra)
    except invitations.InvitationUnusable as refused:
        return render(
            request, "accounts/invitation_unusable.html", {"reason": refused.reason}, status=410
        )
    form = AcceptInvitationForm(request.POST or None, initial={"username": invitation.email})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            invitations.accept(
                token,
                orchestra,
                invitations.NewAccount(
                    username=d["username"],
                    password=d["password1"],
                    first_name=d["first_name"],
                    last_name=d["last_name"],
                ),
                request=request,
            )
        except invitations.InvitationUnusable as refused:
            return render(
                request,
                "accounts/invitation_unusable.html",
                {"reason": refused.reason},
                status=410,
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("Your account is ready. Log in with it now."))
            return redirect("login")
    return render(
        request,
        "accounts/invitation_accept.html",
        {"form": form, "invitation": invitation, "error_forms": [form] if form.errors else []},
        status=400 if form.errors else 200,
    )


@admin_required
def users(request):
    """The orchestra's colleagues: roles, last login, invitations, second-factor rule."""
    orchestra = request.orchestra
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitations.invite(
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                orchestra=orchestra,
                invited_by=request.user,
                request=request,
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        except OSError:
            form.add_error(
                None,
                _("The invitation could not be e-mailed; nothing was saved. Try again in a while."),
            )
        else:
            messages.success(
                request,
                _("An invitation was sent to %(email)s.") % {"email": form.cleaned_data["email"]},
            )
            return redirect("accounts:users")
    return render(
        request,
        "accounts/users.html",
        {
            "form": form,
            "colleagues": staff.colleagues(orchestra),
            "invitations": orchestra.invitations.filter(accepted_at__isnull=True)[:50],
            "admins_required": second_factor.admins_required(orchestra),
            "error_forms": [form] if form.errors else [],
            "hours": settings.INVITATION_VALID_HOURS,
        },
        status=400 if form.errors else 200,
    )


@admin_required
@require_POST
def user_action(request):
    """Change a colleague's role, deactivate or reactivate them, or the second-factor rule."""
    action = request.POST.get("action", "")
    actor, orchestra = request.user, request.orchestra
    if action == "require_second_factor":
        required = request.POST.get("required") == "1"
        if required and not request.user.is_verified():
            messages.error(
                request, _("Set up your own second factor first, then require it of others.")
            )
        else:
            second_factor.set_admins_required(orchestra, required, by=actor)
            audit.record(
                "second_factor.policy",
                actor=actor,
                orchestra=orchestra,
                request=request,
                admins_required=required,
            )
            messages.success(request, _("The second-factor rule was saved."))
        return redirect("accounts:users")
    user_id = require_id(request.POST.get("user"))
    try:
        if action == "role":
            user = staff.change_role(
                orchestra, user_id, request.POST.get("role", ""), actor=actor, request=request
            )
            messages.success(
                request,
                _("%(name)s is now %(role)s.")
                % {"name": user.get_username(), "role": user.get_role_display().lower()},
            )
        elif action in ("deactivate", "reactivate"):
            user = staff.set_active(
                orchestra, user_id, action == "reactivate", actor=actor, request=request
            )
            text = (
                _("%(name)s was reactivated.")
                if user.is_active
                else _("%(name)s was deactivated and can no longer log in.")
            )
            messages.success(request, text % {"name": user.get_username()})
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect(reverse("accounts:users"))
