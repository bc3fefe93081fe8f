"""The provider's inbound webhook on the orchestra's host (46elks' `sms_url`), and the
orchestra's SMS settings page."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from stagesub.accounts.roles import admin_required
from stagesub.offers import tokens
from stagesub.offers.models import Offer
from stagesub.sms import links, replies
from stagesub.sms.forms import SmsSettingsForm
from stagesub.sms.models import SmsSettings
from stagesub.sms.numbers import phone_or_blank
from stagesub.tenancy.context import current_binding

MAX_ID = 100
MAX_TEXT = 1600  # 46elks joins long messages up to this many characters


# Deliberately public (no staff_required): the provider calls it. The per-orchestra secret in
# the URL is the credential, compared in constant time; the host binds the orchestra, so a
# secret is only ever checked against its own orchestra's. No CSRF: there is no session.
@csrf_exempt
@require_POST
def inbound(request, secret: str):
    settings = SmsSettings.current()
    expected = settings.webhook_secret if settings is not None and settings.enabled else ""
    # Fail closed: SMS off, no secret or a wrong one all look the same.
    if not expected or not constant_time_compare(secret, expected):
        return HttpResponseNotFound()
    provider_id = request.POST.get("id", "")
    text = request.POST.get("message")
    sender = request.POST.get("from", "")
    if (
        not provider_id
        or len(provider_id) > MAX_ID
        or text is None
        or len(text) > MAX_TEXT
        or not sender
        or request.POST.get("direction", "incoming") != "incoming"
    ):
        return HttpResponseBadRequest("Expected 46elks' incoming SMS fields: id, from, message.")
    result = replies.receive(
        provider_id=provider_id,
        # An unparseable sender is recorded as unknown (answered by nobody), not refused:
        # a 4xx would make the provider retry it for hours.
        from_number=phone_or_blank(sender),
        text=text,
        now=timezone.now(),
    )
    # 46elks sends a non-empty response body back to the sender as a reply SMS.
    return HttpResponse(result.reply, content_type="text/plain; charset=utf-8")


@admin_required
def sms_settings(request):
    """The orchestra's 46elks account, its sender and which messages also go by SMS."""
    saved = SmsSettings.current()
    current = saved or SmsSettings()
    form = SmsSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("The SMS settings were saved."))
        return redirect("sms:settings")
    return render(
        request,
        "sms/settings.html",
        {
            "form": form,
            "error_forms": [form] if form.errors else [],
            # Only a saved secret: an unsaved row draws a new one on every page view, and an
            # address copied from it into 46elks would never work.
            "webhook_url": request.build_absolute_uri(
                reverse("sms:inbound", args=[current.webhook_secret])
            )
            if saved is not None
            else "",
        },
        status=400 if form.errors else 200,
    )


# Deliberately public: the short link in a request SMS; its token is the credential, as the
# e-mail link's is. It only forwards to that link's page, which decides what may be done.
def short_link(request, token: str):
    pk = links.offer_pk_from(token)
    offer = Offer.objects.filter(pk=pk).first() if pk is not None else None
    orchestra_id = current_binding().orchestra_id
    if offer is None or not links.verify(orchestra_id, offer, token):
        raise Http404
    return redirect("offers:respond", token=tokens.make(orchestra_id, offer))
