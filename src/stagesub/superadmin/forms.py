from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from stagesub.tenancy.models import (
    RESERVED_SUBDOMAINS,
    SUBDOMAIN_PATTERN,
    IsolationIncident,
    Orchestra,
)
from stagesub.validation import email_address, single_line


class OrchestraCreateForm(forms.Form):
    # One line: the name goes into e-mail subjects and calendar names.
    name = forms.CharField(label=_("Orchestra name"), max_length=200, validators=[single_line])
    subdomain = forms.CharField(
        label=_("Subdomain"),
        max_length=40,
        help_text=_(
            "The orchestra's address: <subdomain>.%(domain)s. Lower-case letters, digits, hyphens."
        ),
    )
    contact_name = forms.CharField(
        label=_("Contact person"), max_length=200, required=False, validators=[single_line]
    )
    contact_email = forms.CharField(
        label=_("Contact e-mail (the administrator's)"),
        max_length=254,
        validators=[email_address],
        widget=forms.EmailInput,
    )
    admin_username = forms.CharField(
        label=_("Administrator username"),
        max_length=150,
        required=False,
        help_text=_("Leave empty for <subdomain>-admin."),
    )
    plan = forms.ChoiceField(
        label=_("Plan"), choices=Orchestra.Plan.choices, initial=Orchestra.Plan.MEDIUM
    )

    def __init__(self, *args, base_domain: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subdomain"].help_text = self.fields["subdomain"].help_text % {
            "domain": base_domain
        }

    def clean_subdomain(self):
        subdomain = self.cleaned_data["subdomain"].strip().lower()
        if not re.match(SUBDOMAIN_PATTERN, subdomain):
            raise forms.ValidationError(
                _(
                    "Use 1–40 lower-case letters a–z, digits and hyphens, not starting or ending with a hyphen."
                )
            )
        if subdomain in RESERVED_SUBDOMAINS:
            raise forms.ValidationError(_("This subdomain is reserved for the platform."))
        holder = Orchestra.objects.filter(subdomain=subdomain).first()
        if holder is not None:
            raise forms.ValidationError(_("Already used by %(name)s.") % {"name": holder.name})
        return subdomain

    def clean_admin_username(self):
        username = self.cleaned_data["admin_username"].strip()
        if username and get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username

    def clean(self):
        cleaned = super().clean()
        incident = IsolationIncident.open_incidents().first()
        if incident is not None:
            raise forms.ValidationError(
                _("New orchestras are blocked while isolation incident #%(id)s is open.")
                % {"id": incident.pk}
            )
        subdomain = cleaned.get("subdomain")
        default_username = f"{subdomain}-admin"
        if (
            subdomain
            and not cleaned.get("admin_username")
            and get_user_model().objects.filter(username__iexact=default_username).exists()
        ):
            self.add_error(
                "admin_username",
                _("%(u)s is taken: choose a username.") % {"u": default_username},
            )
        return cleaned


class PlanForm(forms.Form):
    """An orchestra's plan and per-orchestra limits (empty: the plan's limit)."""

    plan = forms.ChoiceField(label=_("Plan"), choices=Orchestra.Plan.choices)

    def __init__(self, *args, orchestra: Orchestra, **kwargs):
        from stagesub.tenancy.plans import LIMIT_LABELS, OVERRIDE_FIELDS, PLAN_LIMITS

        initial = {"plan": orchestra.plan}
        initial.update({f: getattr(orchestra, f) for f in OVERRIDE_FIELDS.values()})
        super().__init__(*args, initial=initial, **kwargs)
        plan_values = ", ".join(
            f"{Orchestra.Plan(key).label}: "
            + " / ".join(str(getattr(limits, n)) for n in OVERRIDE_FIELDS)
            for key, limits in PLAN_LIMITS.items()
        )
        self.fields["plan"].help_text = plan_values
        for name, field in OVERRIDE_FIELDS.items():
            self.fields[field] = forms.IntegerField(
                label=LIMIT_LABELS[name],
                min_value=0,
                required=False,
                help_text=_("Empty: the plan's limit."),
            )

    def overrides(self) -> dict[str, int | None]:
        from stagesub.tenancy.plans import OVERRIDE_FIELDS

        return {name: self.cleaned_data[field] for name, field in OVERRIDE_FIELDS.items()}


class DetailsForm(forms.Form):
    """An orchestra's name and contact (one line each: they go into e-mail headers)."""

    name = forms.CharField(label=_("Orchestra name"), max_length=200, validators=[single_line])
    contact_name = forms.CharField(
        label=_("Contact person"), max_length=200, required=False, validators=[single_line]
    )
    contact_email = forms.CharField(
        label=_("Contact e-mail"),
        max_length=254,
        required=False,
        validators=[email_address],
        widget=forms.EmailInput,
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the orchestra a name."))
        return name


class ReasonForm(forms.Form):
    """Why an orchestra is suspended or reactivated (kept in the audit log)."""

    reason = forms.CharField(
        label=_("Reason"), max_length=500, validators=[single_line], strip=True
    )


class DecommissionForm(forms.Form):
    confirm = forms.CharField(label=_("Type the subdomain to confirm"), max_length=40)

    def __init__(self, *args, orchestra: Orchestra, **kwargs):
        super().__init__(*args, **kwargs)
        self.orchestra = orchestra

    def clean_confirm(self):
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.orchestra.subdomain:
            raise forms.ValidationError(
                _("Type %(subdomain)s exactly to decommission this orchestra.")
                % {"subdomain": self.orchestra.subdomain}
            )
        return typed


class TestEmailForm(forms.Form):
    to = forms.CharField(
        label=_("Send a test e-mail to"),
        max_length=254,
        validators=[email_address],
        widget=forms.EmailInput,
    )
