from __future__ import annotations

import math

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from stagesub.accounts import devices, throttling
from stagesub.accounts.clientaddr import client_address
from stagesub.tenancy import audit
from stagesub.validation import single_line


class HostAuthenticationForm(AuthenticationForm):
    """Django's login form, confirmed against the host: the host decides, the login confirms.

    On an orchestra's host only that orchestra's users get in; on the platform host only
    superadmins. A refusal looks exactly like a wrong password (no account discovery), and is
    written to the platform audit log. Every password check goes through the throttle first.
    """

    attempt: throttling.Attempt | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()  # no password will be checked: the fields say what is missing
        host = self.request.get_host()
        self.attempt = throttling.begin(
            username=username,
            address=client_address(self.request),
            device=devices.read(self.request),
            host=host,
        )
        if self.attempt.throttled:
            throttling.note_throttled(self.attempt, orchestra=self.request.orchestra, host=host)
            minutes = math.ceil(self.attempt.retry_after / 60)
            raise forms.ValidationError(
                ngettext(
                    "Too many login attempts. Try again in %(minutes)d minute.",
                    "Too many login attempts. Try again in %(minutes)d minutes.",
                    minutes,
                ),
                code="throttled",
                params={"minutes": minutes},
            )
        # A failure below leaves the attempt counted; the view reports a success.
        return super().clean()

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        orchestra = self.request.orchestra
        allowed = user.belongs_to(orchestra) if orchestra is not None else user.is_superadmin
        if not allowed:
            audit.record(
                "login.refused_wrong_host",
                actor_label=user.get_username(),
                orchestra=orchestra,
                request=self.request,
                user_orchestra=str(user.orchestra_id or ""),
                role=user.role,
            )
            raise forms.ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[("member", _("Member")), ("admin", _("Administrator"))],
        initial="member",
        help_text=_(
            "Members do the day-to-day work; administrators also manage settings, "
            "templates, users, deletions and imports."
        ),
    )


class SuperadminInvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)


class AcceptInvitationForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
        help_text=_("At least 10 characters, not a common password."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") != data.get("password1"):
            self.add_error("password2", _("The two passwords differ."))
        for name in ("username", "first_name", "last_name"):
            value = data.get(name) or ""
            try:
                single_line(value)
            except forms.ValidationError as error:
                self.add_error(name, error)
        return data


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text=_("The 6 digits your authenticator app shows, or one of your recovery codes."),
    )


class HostPasswordResetForm(PasswordResetForm):
    """Django's reset form, limited to the accounts of the host it is used on: an orchestra's
    staff on its host, superadmins on the platform. The page answers the same whether or not
    an account matched (no account discovery)."""

    def __init__(self, *args, orchestra=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.orchestra = orchestra

    def get_users(self, email):
        users = get_user_model().objects.filter(email__iexact=email, is_active=True)
        if self.orchestra is None:
            users = users.filter(role="superadmin")
        else:
            users = users.filter(orchestra=self.orchestra)
        return (u for u in users if u.has_usable_password())
