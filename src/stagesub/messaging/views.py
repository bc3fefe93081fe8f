"""The orchestra's mail pages: sent mail, templates and sender settings, group e-mail, and the
musician's public page to stop group e-mails."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from stagesub.accounts.roles import admin_required, staff_required
from stagesub.messaging import group, templates_admin
from stagesub.messaging.filters import MailboxFilter
from stagesub.messaging.forms import GroupEmailForm, SenderForm, TemplateForm
from stagesub.messaging.models import GroupEmail, Kind, Message, SenderSettings
from stagesub.messaging.rendering import VARIABLES
from stagesub.roster.models import Musician
from stagesub.tenancy.context import current_binding
from stagesub.web.paging import page_of


@staff_required
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


# --- templates and sender settings (admins) -------------------------------------------------


@admin_required
def template_list(request):
    return render(
        request,
        "messaging/template_list.html",
        {"rows": templates_admin.overview(), "sender": SenderSettings.current()},
    )


def _template_or_404(kind: str, language: str) -> None:
    if not templates_admin.is_template(kind, language):
        raise Http404


def _template_page(request, kind, language, form, *, preview=None, status=200):
    return render(
        request,
        "messaging/template_edit.html",
        {
            "kind": kind,
            "kind_label": Kind(kind).label,
            "language": language,
            "language_label": Musician.Language(language).label,
            "form": form,
            "error_forms": [form] if form.errors else [],
            "variables": VARIABLES,
            "preview": preview,
            "changes": [
                (c, templates_admin.diff(c)) for c in templates_admin.history(kind, language)
            ],
        },
        status=status,
    )


@admin_required
def template_edit(request, kind: str, language: str):
    _template_or_404(kind, language)
    if request.method != "POST":
        subject, body = templates_admin.current(kind, language)
        form = TemplateForm(initial={"subject": subject, "body": body})
        preview = templates_admin.preview(kind, language, subject, body, request.orchestra)
        return _template_page(request, kind, language, form, preview=preview)
    form = TemplateForm(request.POST)
    if not form.is_valid():
        return _template_page(request, kind, language, form, status=400)
    subject, body = form.cleaned_data["subject"], form.cleaned_data["body"]
    if "preview" in request.POST:
        preview = templates_admin.preview(kind, language, subject, body, request.orchestra)
        return _template_page(request, kind, language, form, preview=preview)
    try:
        change = templates_admin.save(kind, language, subject, body, by=request.user.get_username())
    except ValidationError as exc:
        form.add_error(None, exc)
        return _template_page(request, kind, language, form, status=400)
    if change is None:
        messages.info(request, _("Nothing was changed."))
    else:
        messages.success(request, _("The template was saved. The next e-mail uses it."))
    return redirect("messaging:template", kind=kind, language=language)


@admin_required
@require_POST
def template_preview(request, kind: str, language: str):
    """The preview panel for the text being typed (htmx, as it changes); nothing is saved."""
    _template_or_404(kind, language)
    form = TemplateForm(request.POST)
    context = {"form": form}
    if form.is_valid():
        context["preview"] = templates_admin.preview(
            kind,
            language,
            form.cleaned_data["subject"],
            form.cleaned_data["body"],
            request.orchestra,
        )
    # 200 either way: htmx swaps the panel, which shows the errors by field.
    return render(request, "messaging/_template_preview.html", context)


@admin_required
@require_POST
def template_reset(request, kind: str, language: str):
    _template_or_404(kind, language)
    change = templates_admin.reset(kind, language, by=request.user.get_username())
    if change is None:
        messages.info(request, _("The template already is the default."))
    else:
        messages.success(request, _("The template is back to the default text."))
    return redirect("messaging:template", kind=kind, language=language)


@admin_required
def sender_settings(request):
    form = SenderForm(request.POST or None, instance=SenderSettings.current())
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("The sender settings were saved. Every e-mail uses them."))
        return redirect("messaging:sender")
    return render(
        request,
        "messaging/sender.html",
        {"form": form, "error_forms": [form] if form.errors else []},
        status=400 if form.errors else 200,
    )


# --- group e-mail (staff) -------------------------------------------------------------------


def _group_page(request, form, *, found=None, fingerprint="", sample=None, status=200):
    return render(
        request,
        "messaging/group_email.html",
        {
            "form": form,
            "error_forms": [form] if form.errors else [],
            "found": found,
            "fingerprint": fingerprint,
            "sample": sample,
            "musician_variables": group.MUSICIAN_VARIABLES,
            "project_variables": group.PROJECT_VARIABLES,
            "recent": GroupEmail.objects.all()[:5],
        },
        status=status,
    )


def _sample(form, found, orchestra) -> tuple[str, str]:
    """The first recipient's copy, as it will be sent (the stop link shown, not yet valid)."""
    audience = form.audience()
    return group.compose(
        found.musicians[0],
        subject=form.cleaned_data["subject"],
        body=form.cleaned_data["body"],
        orchestra_name=orchestra.name,
        project=audience.booked_in,
        signature=SenderSettings.current().signature,
        unsubscribe_url=f"{orchestra.public_url()}unsubscribe/…/",
    )


@staff_required
def group_email(request):
    if request.method != "POST":
        return _group_page(request, GroupEmailForm(initial={"status": Musician.Status.ACTIVE}))
    form = GroupEmailForm(request.POST)
    if not form.is_valid():
        return _group_page(request, form, status=400)
    audience = form.audience()
    subject, body = form.cleaned_data["subject"], form.cleaned_data["body"]
    attachments = form.attachment_ids()
    if "send" in request.POST:
        sent = group.send(
            audience,
            subject=subject,
            body=body,
            attachment_ids=attachments,
            expected=request.POST.get("fingerprint", ""),
            orchestra=request.orchestra,
            by=request.user.get_username(),
        )
        if sent.group_email is not None:
            count = sent.group_email.recipient_count
            messages.success(
                request,
                ngettext(
                    "The e-mail is queued for %(n)s recipient.",
                    "The e-mail is queued for %(n)s recipients.",
                    count,
                )
                % {"n": count},
            )
            return redirect("messaging:group_email_detail", pk=sent.group_email.pk)
        found = sent.recipients
        if sent.refused == group.CHANGED:
            form.add_error(
                None,
                _(
                    "The recipients or the text changed since the preview. Nothing was sent: "
                    "check the new preview and send again."
                ),
            )
    else:
        found = group.recipients(audience)
    if not found.musicians:
        form.add_error(
            None, _("No musician matches these choices, so nothing can be sent. Widen the filters.")
        )
        return _group_page(request, form, found=found, status=400)
    return _group_page(
        request,
        form,
        found=found,
        fingerprint=found.fingerprint(subject, body, attachments),
        sample=_sample(form, found, request.orchestra),
        status=409 if form.errors else 200,
    )


def _with_counts(group_emails):
    by_status = {
        status: Count("messages", filter=Q(messages__status=status))
        for status in ("sent", "queued", "sending", "failed", "cancelled")
    }
    # (an aggregating query ignores Meta.ordering: the order is said again)
    return group_emails.annotate(**by_status).order_by("-created_at", "-pk")


@staff_required
def group_email_history(request):
    page, keep = page_of(request, _with_counts(GroupEmail.objects.all()))
    return render(request, "messaging/group_email_history.html", {"page": page, "keep": keep})


@staff_required
def group_email_detail(request, pk: int):
    group_email = get_object_or_404(_with_counts(GroupEmail.objects.all()), pk=pk)
    copies = group_email.messages.select_related("musician").order_by(
        "musician__last_name", "musician__first_name", "pk"
    )
    context = {
        "group_email": group_email,
        "copies": copies,
        "busy": group_email.queued + group_email.sending > 0,
    }
    if request.headers.get("HX-Request"):
        return render(request, "messaging/_group_progress.html", context)
    return render(request, "messaging/group_email_detail.html", context)


# --- the musician's page to stop group e-mails (public) -------------------------------------


# Public: the musician follows the link from an e-mail, with no account. The token is the
# capability (an HMAC over this orchestra's id and the musician), so a CSRF check would add
# nothing and would turn away mail apps that drop cookies (as on the answer page).
@csrf_exempt
def unsubscribe(request, token: str):
    musician = group.musician_for_token(current_binding().orchestra_id, token)
    if musician is None:
        return render(request, "messaging/unsubscribe.html", {"state": "invalid"}, status=404)
    with translation.override(musician.preferred_language):
        if request.method == "POST":
            group.opt_out(musician)
            return redirect(f"{request.path}?done=1")
        stopped = hasattr(musician, "group_opt_out")
        response = render(
            request,
            "messaging/unsubscribe.html",
            {
                "state": "stopped" if stopped else "ask",
                "musician": musician,
                "done": request.GET.get("done") == "1",
            },
        )
        response["Content-Language"] = musician.preferred_language
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex"
        return response
