"""The orchestra's sent mail: every message of the outbox with its delivery state."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from stagesub.messaging.models import Message


@login_required
def mailbox(request):
    messages = Message.objects.select_related("offer", "musician")
    status = request.GET.get("status", "")
    if status in Message.Status.values:
        messages = messages.filter(status=status)
    page = Paginator(messages, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/mailbox.html",
        {"page": page, "status": status, "statuses": Message.Status.choices},
    )
