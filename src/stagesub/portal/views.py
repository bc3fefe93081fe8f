"""The musician's personal page (/me/): no staff login; a sign-in link starts a musician session.

Every view here is public as far as staff roles go: /me/ and the sign-in link are how a musician
gets in, the calendar feed carries its own secret token, and the rest require the musician
session (`musician_required`), which only ever shows the signed-in musician's own data.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stagesub.offers import services as offers
from stagesub.offers.models import Offer
from stagesub.portal import access, services
from stagesub.portal.forms import ContactForm, EmailForm, UnavailabilityForm
from stagesub.portal.staff_views import json_download
from stagesub.projects.forms import today


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def musician_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        musician = access.session_musician(request.orchestra.pk, request.COOKIES.get(access.COOKIE))
        if musician is None:
            return redirect("portal:start")
        request.musician = musician
        return _no_store(view(request, *args, **kwargs))

    return wrapped


def start(request):
    """Ask for a sign-in link. The answer is the same whether or not the address is known."""
    form = EmailForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(
                request, "portal/start.html", {"form": form, "error_forms": [form]}, status=400
            )
        access.request_link(
            form.cleaned_data["email"],
            orchestra_id=request.orchestra.pk,
            base_url=request.orchestra.public_url(),
            now=timezone.now(),
        )
        return render(request, "portal/start.html", {"sent": True})
    return _no_store(render(request, "portal/start.html", {"form": form}))


def sign_in(request, token: str):
    """GET shows a button, POST uses the link: mail scanners that open links only GET."""
    if request.method == "POST":
        result = access.use_link(token, orchestra_id=request.orchestra.pk, now=timezone.now())
        if result.musician is not None:
            response = redirect("portal:home")
            response.set_cookie(
                access.COOKIE,
                access.session_value(request.orchestra.pk, result.musician),
                max_age=settings.PORTAL_SESSION_DAYS * 86400,
                path=access.COOKIE_PATH,
                secure=request.is_secure(),
                httponly=True,
                samesite="Lax",
            )
            return response
        return _refused(request, result.refused)
    refused = access.check_link(token, orchestra_id=request.orchestra.pk)
    if refused:  # a link for another orchestra is named as such before anyone presses a button
        return _refused(request, refused)
    return _no_store(render(request, "portal/sign_in.html", {}))


def _refused(request, refused: str) -> HttpResponse:
    status = 404 if refused in (access.WRONG_HOST, access.INVALID) else 410
    return render(request, "portal/sign_in.html", {"refused": refused}, status=status)


@require_POST
def sign_out(request):
    response = redirect("portal:start")
    response.delete_cookie(access.COOKIE, path=access.COOKIE_PATH)
    return response


def _home(request, *, availability_form=None, contact_form=None, status=200):
    musician = request.musician
    now = timezone.now()
    upcoming, past = services.engagements(musician, today())
    availability_form = availability_form or UnavailabilityForm()
    contact_form = contact_form or ContactForm(
        initial={
            "email": musician.email,
            "phone": musician.phone,
            "preferred_language": musician.preferred_language,
        }
    )
    feed = request.build_absolute_uri(f"/me/calendar/{services.feed_token(musician)}.ics")
    return render(
        request,
        "portal/home.html",
        {
            "musician": musician,
            "open_requests": services.open_requests(musician, now),
            "upcoming": upcoming,
            "past": past,
            "periods": musician.unavailabilities.filter(last_day__gte=today()),
            "availability_form": availability_form,
            "contact_form": contact_form,
            "error_forms": [f for f in (availability_form, contact_form) if f.errors],
            "feed_url": feed,
        },
        status=status,
    )


@musician_required
def home(request):
    return _home(request)


@musician_required
@require_POST
def answer(request, offer_id: str):
    """Answer an open request through the same service as the e-mailed answer link."""
    offer = get_object_or_404(Offer, offer_id=offer_id, musician=request.musician)
    choice = request.POST.get("answer")
    if choice not in ("yes", "no"):
        messages.error(request, _("Choose yes or no."))
        return redirect("portal:home")
    outcome = offers.answer(offer, accepted=choice == "yes")
    if outcome.refused:
        messages.error(request, _("This request can no longer be answered."))
    else:
        messages.success(request, _("Thank you for your answer."))
    return redirect("portal:home")


@musician_required
@require_POST
def add_unavailability(request):
    form = UnavailabilityForm(request.POST)
    if form.is_valid():
        try:
            services.add_unavailability(
                request.musician,
                form.cleaned_data["first_day"],
                form.cleaned_data["last_day"],
                today=today(),
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field, message)
    if form.errors:
        return _home(request, availability_form=form, status=400)
    messages.success(request, _("Saved: you will not be asked for projects during these days."))
    return redirect("portal:home")


@musician_required
@require_POST
def remove_unavailability(request, pk: int):
    if not services.remove_unavailability(request.musician, pk):
        raise Http404
    messages.success(request, _("The period was removed."))
    return redirect("portal:home")


@musician_required
@require_POST
def contact(request):
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            changed = services.change_contact(
                request.musician, services.Contact(**form.cleaned_data), now=timezone.now()
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field, message)
    if form.errors:
        return _home(request, contact_form=form, status=400)
    if changed:
        messages.success(request, _("Your details were saved."))
    return redirect("portal:home")


@musician_required
@require_POST
def renew_calendar(request):
    services.feed_token(request.musician, renew=True)
    messages.success(request, _("Your calendar link was renewed; the old one no longer works."))
    return redirect("portal:home")


@musician_required
def export(request):
    """The musician's own copy of everything stored about them."""
    return json_download(request.musician)


def calendar(request, token: str):
    """The musician's engagements for calendar apps; the secret token stands in for a login."""
    musician = services.musician_for_feed(token)
    if musician is None:
        raise Http404
    body = services.engagements_ics(
        musician, orchestra_name=request.orchestra.name, host=request.get_host().split(":")[0]
    )
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")
