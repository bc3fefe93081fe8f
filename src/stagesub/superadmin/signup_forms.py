from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from stagesub.superadmin.signup import Application
from stagesub.tenancy.models import RESERVED_SUBDOMAINS, SUBDOMAIN_PATTERN, Orchestra
from stagesub.validation import email_address, single_line


class SignupForm(forms.Form):
    # The same rules as the console's OrchestraCreateForm: names travel in e-mail headers.
    orchestra_name = forms.CharField(
        label=_("Orchestra name"), max_length=200, validators=[single_line]
    )
    subdomain = forms.CharField(
        label=_("Address"),
        max_length=40,
        help_text=_(
            "Your orchestra's address: <address>.%(domain)s. Lower-case letters, digits, hyphens."
        ),
    )
    contact_name = forms.CharField(label=_("Your name"), max_length=200, validators=[single_line])
    email = forms.CharField(
        label=_("Your e-mail address"),
        max_length=254,
        validators=[email_address],
        widget=forms.EmailInput,
        help_text=_("You become the orchestra's administrator; the login link is sent here."),
    )

    def __init__(self, *args, base_domain: str, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["subdomain"]
        field.help_text = field.help_text % {"domain": base_domain}

    def clean_subdomain(self) -> str:
        subdomain = self.cleaned_data["subdomain"].strip().lower()
        if not re.match(SUBDOMAIN_PATTERN, subdomain):
            raise forms.ValidationError(
                _(
                    "Use 1–40 lower-case letters a–z, digits and hyphens, not starting or ending with a hyphen."
                )
            )
        if subdomain in RESERVED_SUBDOMAINS:
            raise forms.ValidationError(_("This subdomain is reserved for the platform."))
        if Orchestra.objects.filter(subdomain=subdomain).exists():
            # Not naming the holder: the page is public.
            raise forms.ValidationError(_("This address is taken."))
        if get_user_model().objects.filter(username__iexact=f"{subdomain}-admin").exists():
            raise forms.ValidationError(_("This address is taken."))
        return subdomain

    def application(self) -> Application:
        d = self.cleaned_data
        return Application(
            orchestra_name=d["orchestra_name"].strip(),
            subdomain=d["subdomain"],
            contact_name=d["contact_name"].strip(),
            email=d["email"],
        )
