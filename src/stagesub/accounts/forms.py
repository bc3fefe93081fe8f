from __future__ import annotations

import math

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import ngettext

from stagesub.accounts import devices, throttling
from stagesub.accounts.clientaddr import client_address
from stagesub.tenancy import audit


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
