"""The orchestra's sent mail: every message of the outbox with its delivery state."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from stagesub.messaging.filters import MailboxFilter
from stagesub.messaging.models import Message
from stagesub.web.paging import page_of


@login_required
def mailbox(request):
    filters = MailboxFilter(
        request.GET, queryset=Message.objects.select_related("offer", "musician")
    )
    page, keep = page_of(request, filters.qs)  # filtered and cut in the database
    return render(
        request,
        "messaging/mailbox.html",
        {"page": page, "keep": keep, "filters": filters, "filtered": bool(keep)},
    )
