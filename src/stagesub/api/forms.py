from django import forms
from django.utils.translation import gettext_lazy as _


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("Which system uses it."))
    write = forms.BooleanField(
        label=_("Allow changes (send requests, record answers)"), required=False
    )
