"""The orchestra's sent mail: every message of the outbox with its delivery state."""

from __future__ import annotations

from django.shortcuts import render

from stagesub.accounts.roles import staff_required
from stagesub.messaging.models import Message
from stagesub.web.paging import page_of


@staff_required
def mailbox(request):
    messages = Message.objects.select_related("offer", "musician")
    status = request.GET.get("status", "")
    if status in Message.Status.values:
        messages = messages.filter(status=status)
    page, keep = page_of(request, messages)
    return render(
        request,
        "messaging/mailbox.html",
        {"page": page, "keep": keep, "status": status, "statuses": Message.Status.choices},
    )
