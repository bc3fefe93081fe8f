"""The musician's response page (no login) and the staff's offer pages (preview, send, act)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt

from stagesub.accounts.roles import staff_required
from stagesub.messaging.models import Message
from stagesub.offers import engine, live, services, tokens
from stagesub.offers.models import Offer, OfferEvent
from stagesub.offers.preview import preview, quantity_preview
from stagesub.projects.files import download, sent_with
from stagesub.projects.models import Need, ProjectFile
from stagesub.projects.services import requests_refused
from stagesub.projects.shortcuts import need_or_404, project_or_404
from stagesub.tenancy.context import current_binding
from stagesub.validation import require_id

# --- the musician's page ----------------------------------------------------------------------


def _offer_for_token(token: str) -> Offer | None:
    pk = tokens.offer_pk_from(token)
    if pk is None:
        return None
    offer = (
        Offer.objects.select_related("musician", "need__position__instrument", "project")
        .filter(pk=pk)
        .first()
    )
    # A link made for another orchestra (or forged) fails here: the check covers the
    # orchestra's id, so a Göteborg link on Malmö's host names no offer.
    if offer is None or not tokens.verify(current_binding().orchestra_id, offer, token):
        return None
    return offer


def _state(offer: Offer, now) -> str:
    if offer.status == engine.PENDING:
        return "open" if now < offer.expires_at else "expired"
    if offer.status == engine.TIMED_OUT:
        return "expired"
    if offer.status == engine.WITHDRAWN:
        filled = offer.events.filter(
            kind__in=[OfferEvent.Kind.FILLED, OfferEvent.Kind.LATE_ANSWER]
        ).exists()
        return "filled" if filled else "withdrawn"
    return offer.status  # accepted / declined


STATUS_FOR_STATE = {"open": 200, "accepted": 200, "declined": 200, "filled": 200}


# The token is the capability: whoever could forge this POST already holds the link and could
# answer directly, so a CSRF check adds nothing, and it would turn away musicians whose in-app
# mail browser drops cookies.
@csrf_exempt
def respond(request, token: str):
    offer = _offer_for_token(token)
    if offer is None:
        return render(request, "offers/respond.html", {"state": "invalid"}, status=404)
    with translation.override(offer.musician.preferred_language):
        if request.method == "POST":
            choice = request.POST.get("answer")
            if choice not in ("yes", "no"):
                return render(
                    request,
                    "offers/respond.html",
                    {"state": "open", "offer": offer, "error": _("Choose yes or no.")},
                    status=400,
                )
            outcome = services.answer(offer, accepted=choice == "yes")
            # "Thank you" only for the answer that counted; a second click sees what stands.
            counted = not outcome.refused and isinstance(outcome.event, engine.Answered)
            return redirect(f"{request.path}?answered=1" if counted else request.path)
        state = _state(offer, timezone.now())
        response = render(
            request,
            "offers/respond.html",
            {
                "state": state,
                "offer": offer,
                "answered": request.GET.get("answered") == "1",
                "files": sent_with(offer.need, ProjectFile.SendTiming.ON_REQUEST)
                if state == "open"
                else [],
                "token": token,
            },
            status=STATUS_FOR_STATE.get(state, 410),
        )
        response["Content-Language"] = offer.musician.preferred_language
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex"
        return response


def respond_file(request, token: str, file_id: str):
    """A request's file, for the musician holding a still-open link."""
    offer = _offer_for_token(token)
    if offer is None or _state(offer, timezone.now()) != "open":
        raise Http404
    project_file = get_object_or_404(
        sent_with(offer.need, ProjectFile.SendTiming.ON_REQUEST).select_related("stored"),
        file_id=file_id.upper(),
    )
    return download(project_file.stored)


# --- staff ------------------------------------------------------------------------------------


@staff_required
def send_preview(request, project_id: str, need_id: str | None = None):
    """GET: the dry run for one need or the whole project. POST: send."""
    project = project_or_404(project_id)
    need = need_or_404(project, need_id) if need_id else None
    closed = requests_refused(project, timezone.localdate())
    if request.method == "POST":
        by = request.user.get_username()
        try:
            if need is not None:
                count = len(services.send(need, by=by).created)
            else:
                count = services.send_project(project, by=by)
        except ValidationError as error:
            messages.error(request, error.messages[0])
            return redirect("projects:project", project.project_id)
        if count:
            messages.success(
                request,
                ngettext("%(n)s request was sent.", "%(n)s requests were sent.", count)
                % {"n": count},
            )
        else:
            messages.info(request, _("No requests needed to be sent."))
        return redirect("projects:project", project.project_id)
    previews = preview(project, only=need)
    return render(
        request,
        "offers/preview.html",
        {
            "project": project,
            "need": need,
            "previews": previews,
            "will_send": 0 if closed else sum(len(p.to_ask) for p in previews),
            "closed": closed,
        },
    )


@staff_required
def live_panel(request, project_id: str):
    project = project_or_404(project_id)
    try:
        since = int(request.GET.get("since", "0"))
    except ValueError:
        since = 0
    return render(request, "offers/_panel.html", {"section": live.panel(project, since=since)})


@staff_required
def offer_detail(request, offer_id: str):
    offer = get_object_or_404(
        Offer.objects.select_related("musician", "need__position__instrument", "project"),
        offer_id=offer_id.upper(),
    )
    if request.method == "POST":
        return _offer_action(request, offer)
    return render(
        request,
        "offers/offer_detail.html",
        {"offer": offer, "log": live.log_of(offer), "pending": offer.status == engine.PENDING},
    )


def _offer_action(request, offer: Offer):
    by = request.user.get_username()
    action = request.POST.get("action", "")
    if action in ("record_yes", "record_no"):
        outcome = services.answer(offer, accepted=action == "record_yes", by=by)
        if outcome.refused == services.REPEATED:
            messages.info(request, _("This answer was already recorded."))
        elif outcome.refused:
            messages.error(request, _("The request is no longer waiting for an answer."))
        else:
            messages.success(request, _("The answer was recorded."))
    elif action == "withdraw":
        if services.withdraw(offer, by=by).refused:
            messages.error(request, _("Only a request waiting for an answer can be withdrawn."))
        else:
            messages.success(request, _("The request was withdrawn and the musician told."))
    elif action == "resend":
        message = get_object_or_404(
            Message, pk=require_id(request.POST.get("message")), offer=offer
        )
        if message.kind in ("request", "reminder") and offer.status != engine.PENDING:
            # Its link would only say the request is closed.
            messages.error(request, _("The request is no longer open; its link would not work."))
        else:
            services.resend(message, by=by)
            messages.success(request, _("The message will be sent again."))
    else:
        messages.error(request, _("Unknown action."))
    return redirect("offers:offer", offer.offer_id)


def _seats(request, need: Need) -> tuple[int | None, str]:
    """The seats asked for in the POST, or None and why not."""
    try:
        quantity = int(request.POST.get("quantity", ""))
    except ValueError:
        return None, _("Enter a whole number of seats.")
    if quantity < 1 or quantity > 500:
        return None, _("Enter a number of seats between 1 and 500.")
    if need.status == Need.Status.ARCHIVED:
        return None, _("An archived need cannot be changed.")
    return quantity, ""


@staff_required
def change_quantity(request, project_id: str, need_id: str):
    """Change a need's seats in two steps, outside the refreshing panel: the number, then a
    preview naming who would be withdrawn or asked; only the confirmation sends anything."""
    project = project_or_404(project_id)
    need = need_or_404(project, need_id)
    context = {"project": project, "need": need, "quantity": need.quantity}
    if request.method != "POST":
        return render(request, "offers/quantity.html", context)
    quantity, error = _seats(request, need)
    if quantity is None:
        context.update(error=error, quantity=request.POST.get("quantity", ""))
        return render(request, "offers/quantity.html", context, status=400)
    if quantity == need.quantity:
        messages.info(request, _("The number of seats is unchanged."))
        return redirect("projects:project", project.project_id)
    context["quantity"] = quantity
    if request.POST.get("confirm"):
        outcome = services.change_quantity(
            need,
            quantity,
            by=request.user.get_username(),
            expected=request.POST.get("fingerprint", ""),
        )
        if not outcome.refused:
            messages.success(request, _("The quantity is now %(n)s.") % {"n": quantity})
            return redirect("projects:project", project.project_id)
        if outcome.refused == services.CHANGED:
            context["error"] = _(
                "Answers came in since the preview, so the change would now do something "
                "else. Nothing was sent; check the new preview."
            )
    context["preview"] = quantity_preview(need, quantity)
    status = 409 if context.get("error") else 200
    return render(request, "offers/quantity.html", context, status=status)
