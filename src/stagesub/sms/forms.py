from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from stagesub.roster.phones import normalize_phone
from stagesub.sms.models import SmsSettings

# 46elks: an alphanumeric sender is 3–11 letters or digits, starting with a letter.
_NAME_SENDER = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,10}$")


class SmsSettingsForm(forms.ModelForm):
    # Write-only: the stored password is never shown; blank keeps it.
    api_password = forms.CharField(
        label=_("API password"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted. Leave empty to keep the saved password."),
    )

    field_order = ["enabled", "api_username", "api_password", "sender"]

    class Meta:
        model = SmsSettings
        fields = [
            "enabled",
            "api_username",
            "sender",
            "send_request",
            "send_reminder",
            "send_confirmation",
        ]
        help_texts = {
            "api_username": _("From your 46elks account (API credentials)."),
            "sender": _(
                "Your 46elks number in international form (+46…) so musicians can answer by "
                "reply, or a name of 3–11 letters (then they answer by the link only)."
            ),
            "send_request": _("Requests carry a code to answer by reply, and the answer link."),
        }

    def clean_sender(self) -> str:
        sender = self.cleaned_data["sender"].strip()
        if not sender or _NAME_SENDER.match(sender):
            return sender
        return normalize_phone(sender)  # ValidationError: shown next to the field

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("enabled"):
            has_password = cleaned.get("api_password") or self.instance.api_password_encrypted
            missing = {
                "api_username": not cleaned.get("api_username"),
                "api_password": not has_password,
                "sender": not cleaned.get("sender") and "sender" not in self.errors,
            }
            for name, is_missing in missing.items():
                if is_missing:
                    self.add_error(name, ValidationError(_("Needed to send SMS.")))
        return cleaned

    def save(self, commit: bool = True) -> SmsSettings:
        settings = super().save(commit=False)
        if self.cleaned_data.get("api_password"):
            settings.set_api_password(self.cleaned_data["api_password"])
        if commit:
            settings.save()
        return settings
