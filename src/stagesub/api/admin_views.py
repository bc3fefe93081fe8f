"""Admins create and revoke the orchestra's API tokens (/api-tokens/)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from stagesub.accounts.roles import admin_required
from stagesub.api import tokens
from stagesub.api.forms import TokenForm
from stagesub.api.models import ApiToken


@admin_required
def token_list(request):
    form = TokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        # Shown on this one answer only: the database keeps just its hash.
        _token, created = tokens.create_token(
            request.orchestra.subdomain, form.cleaned_data["name"], write=form.cleaned_data["write"]
        )
        form = TokenForm()
    return render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "created": created,
            "tokens": ApiToken.objects.order_by("-created_at"),
            "error_forms": [form] if form.errors else [],
        },
        status=400 if form.errors else 200,
    )


@admin_required
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, revoked_at__isnull=True)
    if request.method == "POST":
        tokens.revoke(token)
        messages.success(request, _("The token was revoked; it no longer works."))
        return redirect("api_tokens")
    return render(request, "api/token_revoke.html", {"token": token})
