"""The SMS copy of a request, reminder or confirmation, queued beside its e-mail.

Same outbox row type (channel = sms), same transaction, same retries and backoff; delivered by
stagesub.sms.delivery. Which kinds go by SMS is the orchestra's choice (SmsSettings).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from stagesub.messaging.models import Kind, Message
from stagesub.messaging.outbox import copy_queued
from stagesub.roster.phones import normalize_phone
from stagesub.sms import links
from stagesub.sms.models import SmsSettings
from stagesub.sms.replies import code_of
from stagesub.tenancy.binding import directory
from stagesub.tenancy.context import current_binding


def _texts() -> dict[str, str]:
    # Short: one or two SMS. No deadline in the text, so a delayed SMS never needs rewriting.
    return {
        Kind.REQUEST: _(
            "%(orchestraName)s: can you play %(position)s in %(projectName)s from "
            "%(startDate)s? Reply YES %(code)s or NO %(code)s, or answer here: %(shortUrl)s"
        ),
        Kind.REMINDER: _(
            "%(orchestraName)s reminder: please answer the request for %(projectName)s "
            "(%(position)s). Reply YES %(code)s or NO %(code)s, or: %(shortUrl)s"
        ),
        Kind.CONFIRMATION: _(
            "%(orchestraName)s: you are booked for %(projectName)s (%(position)s) from "
            "%(startDate)s. The details follow by e-mail."
        ),
    }


SMS_KINDS = frozenset({Kind.REQUEST, Kind.REMINDER, Kind.CONFIRMATION})


def wanted(settings: SmsSettings | None, kind: str) -> bool:
    if settings is None or not settings.enabled:
        return False
    return {
        Kind.REQUEST: settings.send_request,
        Kind.REMINDER: settings.send_reminder,
        Kind.CONFIRMATION: settings.send_confirmation,
    }[kind]


def short_url(offer) -> str:
    binding = current_binding()
    # The routing directory's short cache, as the e-mail link uses: no control query per SMS.
    orchestra, _binding = directory.lookup(binding.subdomain)
    return f"{orchestra.public_url()}s/{links.make(binding.orchestra_id, offer)}/"


@copy_queued
def queue_sms_copy(message: Message, offer, values: dict[str, str]) -> Message | None:
    # The kind first: a filled need's many "position filled" notices read no settings.
    if offer is None or message.kind not in SMS_KINDS:
        return None
    if not wanted(SmsSettings.current(), message.kind):
        return None
    musician = message.musician
    with translation.override(message.language):
        body = _texts()[message.kind] % {
            **values,
            "code": code_of(offer),
            "shortUrl": short_url(offer),
        }
        fields = {"status": Message.Status.QUEUED, "last_error": ""}
        try:
            fields["to_phone"] = normalize_phone(musician.phone)
        except ValidationError as error:  # stored before numbers were checked
            fields.update(status=Message.Status.CANCELLED, last_error=error.messages[0])
        if not musician.phone:
            fields.update(
                status=Message.Status.CANCELLED,
                last_error=_("Not sent: the musician has no phone number."),
            )
        subject = _("SMS: %(kind)s") % {"kind": Kind(message.kind).label}
    # Recorded even when it cannot go: the mailbox shows why this musician got e-mail only.
    return Message.objects.create(
        kind=message.kind,
        offer=offer,
        musician=musician,
        channel=Message.Channel.SMS,
        to_email="",
        language=message.language,
        subject=subject,
        body=body,
        next_attempt_at=message.next_attempt_at,
        created_at=message.created_at,
        **fields,
    )
