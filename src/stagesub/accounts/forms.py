from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from stagesub.accounts import throttling
from stagesub.tenancy import audit


class HostAuthenticationForm(AuthenticationForm):
    """Django's login form, confirmed against the host: the host decides, the login confirms.

    On an orchestra's host only that orchestra's users get in; on the platform host only
    superadmins. A refusal looks exactly like a wrong password (no account discovery), and is
    written to the platform audit log.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _("Too many login attempts. Try again in 15 minutes."),
    }

    throttled = False

    def clean(self):
        username = (self.data.get("username") or "").strip()
        ip = audit.client_ip(self.request)
        if throttling.is_throttled(ip=ip, username=username):
            self.throttled = True
            audit.record(
                "login.throttled",
                request=self.request,
                orchestra=self.request.orchestra,
                username=username[:150],
            )
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            return super().clean()
        except forms.ValidationError:
            throttling.record_failure(ip=ip, username=username, host=self.request.get_host())
            raise

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
