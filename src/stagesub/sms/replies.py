"""Answers by reply: `JA 4821`, `nej 4821 tyvärr`, `Yes! 👍` (bare only with one open request).

A reply goes through `offers.services.answer`, the web answer's own path (need lock,
constraint, cascade). The reply is recorded in the same transaction, under a unique provider
id: a redelivered or concurrently duplicated webhook finds the row and answers nothing again.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.db import IntegrityError
from django.utils import translation
from django.utils.translation import gettext as _

from stagesub.offers import engine, services
from stagesub.offers.models import Offer
from stagesub.orchestra.ids import format_readable_id
from stagesub.roster.models import Musician
from stagesub.sms.models import InboundSms
from stagesub.tenancy.context import orchestra_atomic

YES_WORDS = frozenset({"ja", "j", "yes", "y", "jo"})
NO_WORDS = frozenset({"nej", "n", "no", "nope"})
# Words and numbers; everything else (punctuation, emoji) only separates them.
_TOKENS = re.compile(r"[^\W\d_]+|\d+")
# Offer numbers are REQ<number>; more digits than this is not a code (a phone number, say).
_MAX_CODE_DIGITS = 9
OFFER_PREFIX = "REQ"


@dataclass(frozen=True)
class Intent:
    accepted: bool | None  # None: no yes or no found
    code: int | None  # the offer's number, if the reply carried one


def parse(text: str) -> Intent:
    """The first yes/no word and the first number, in any case, among any other words."""
    accepted, code = None, None
    for token in _TOKENS.findall(text.casefold()):
        if token.isdigit():
            if code is None and len(token) <= _MAX_CODE_DIGITS:
                code = int(token)
        elif accepted is None and token in YES_WORDS:
            accepted = True
        elif accepted is None and token in NO_WORDS:
            accepted = False
    return Intent(accepted, code)


def code_of(offer: Offer) -> str:
    """The number a musician types after JA/NEJ for this offer (REQ4821 → 4821)."""
    return str(int(offer.offer_id.removeprefix(OFFER_PREFIX)))


@dataclass(frozen=True)
class Result:
    outcome: str  # InboundSms.Outcome, or "replay"
    reply: str  # the text to send back ("" for none)


REPLAY = "replay"


def _open(offers, now: datetime.datetime):
    return offers.filter(status=engine.PENDING, expires_at__gt=now)


def _find_offer(musician: Musician, intent: Intent, now) -> tuple[Offer | None, str]:
    offers = Offer.objects.filter(musician=musician).select_related("project")
    if intent.code is not None:
        # Only this musician's offers in this orchestra's database: another orchestra's code,
        # or someone else's, names nothing here.
        offer = offers.filter(offer_id=format_readable_id(OFFER_PREFIX, intent.code)).first()
        return offer, "" if offer else InboundSms.Outcome.UNKNOWN_CODE
    open_offers = list(_open(offers, now)[:2])
    if not open_offers:
        return None, InboundSms.Outcome.NO_OPEN
    if len(open_offers) > 1:
        return None, InboundSms.Outcome.AMBIGUOUS
    return open_offers[0], ""


def _answer_reply(offer: Offer, accepted: bool, outcome: services.Outcome) -> tuple[str, str]:
    offer.refresh_from_db(fields=["status"])
    name = offer.project.name
    if not outcome.refused and isinstance(outcome.event, engine.Answered):
        if accepted:
            text = _("Thank you! You are booked for %(project)s. A confirmation follows.")
        else:
            text = _("Thank you for your answer: you have declined %(project)s.")
        return InboundSms.Outcome.ANSWERED, text % {"project": name}
    if outcome.refused == services.REPEATED:
        text = _("You have already answered this request (%(project)s).")
    elif offer.status == engine.TIMED_OUT:
        text = _("The time to answer the request for %(project)s has ended.")
    elif outcome.refused == "filled" or offer.status == engine.WITHDRAWN:
        text = _("The seats for %(project)s are already filled, or the request was withdrawn.")
    else:
        text = _("Your answer to the request for %(project)s could not be recorded.")
    return InboundSms.Outcome.REFUSED, text % {"project": name}


def receive(*, provider_id: str, from_number: str, text: str, now: datetime.datetime) -> Result:
    """Record one inbound SMS and act on it; REPLAY if this provider id was handled before."""
    try:
        with orchestra_atomic():
            return _receive(provider_id, from_number, text, now)
    except IntegrityError:
        # The unique provider id: this delivery (or a concurrent copy) was handled already.
        # (Only the InboundSms insert can raise here: the answer path retries its own.)
        if InboundSms.objects.filter(provider_id=provider_id).exists():
            return Result(REPLAY, "")
        raise


def _receive(provider_id: str, from_number: str, text: str, now) -> Result:
    inbound = InboundSms.objects.create(
        provider_id=provider_id,
        from_number=from_number,
        body=text,
        received_at=now,
        outcome=InboundSms.Outcome.UNCLEAR,
    )
    musician = Musician.objects.filter(phone=from_number).first() if from_number else None
    if musician is None:
        # Not one of ours: no reply (it could be anyone; an answer would invite spam).
        inbound.outcome = InboundSms.Outcome.UNKNOWN_NUMBER
        inbound.save(update_fields=["outcome"])
        return Result(inbound.outcome, "")
    intent = parse(text)
    with translation.override(musician.preferred_language):
        offer, outcome = None, InboundSms.Outcome.UNCLEAR
        if intent.accepted is None:
            reply = _("Answer YES or NO followed by the request's code, for example YES 4821.")
        else:
            offer, outcome = _find_offer(musician, intent, now)
            if offer is not None:
                result = services.answer(offer, accepted=intent.accepted, now=now)
                outcome, reply = _answer_reply(offer, intent.accepted, result)
            elif outcome == InboundSms.Outcome.UNKNOWN_CODE:
                reply = _("We found no request of yours with code %(code)s.") % {
                    "code": intent.code
                }
            elif outcome == InboundSms.Outcome.NO_OPEN:
                reply = _("You have no open request to answer.")
            else:
                reply = _(
                    "You have several open requests: answer with the code, for example YES 4821."
                )
    inbound.outcome, inbound.offer, inbound.reply = outcome, offer, reply[:500]
    inbound.save(update_fields=["outcome", "offer", "reply"])
    return Result(outcome, reply)
