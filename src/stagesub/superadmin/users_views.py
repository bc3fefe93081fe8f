"""The console's people: every orchestra's staff (last login, deactivate, send a reset link)
and the superadmins (invite by e-mail). No page here ever shows or sets a password."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stagesub.accounts import invitations, staff
from stagesub.accounts.forms import HostPasswordResetForm, SuperadminInvitationForm
from stagesub.superadmin.views import superadmin_required
from stagesub.tenancy import audit
from stagesub.web.paging import page_of

User = get_user_model()


@superadmin_required
def user_list(request):
    query = request.GET.get("q", "").strip()
    people = User.objects.exclude(role=User.Role.SUPERADMIN).select_related("orchestra")
    if query:
        people = people.filter(
            Q(username__icontains=query)
            | Q(email__icontains=query)
            | Q(orchestra__subdomain__icontains=query)
            | Q(orchestra__name__icontains=query)
        )
    page, keep = page_of(request, people.order_by("orchestra__name", "username"))
    form = SuperadminInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitations.invite(
                email=form.cleaned_data["email"],
                role=User.Role.SUPERADMIN,
                orchestra=None,
                invited_by=request.user,
                request=request,
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("email", message)
        except OSError:
            form.add_error(
                None, _("The invitation could not be e-mailed; nothing was saved. Try again.")
            )
        else:
            messages.success(
                request,
                _("An invitation was sent to %(email)s.") % {"email": form.cleaned_data["email"]},
            )
            return redirect("superadmin:users")
    return render(
        request,
        "superadmin/users/list.html",
        {
            "page": page,
            "keep": keep,
            "query": query,
            "form": form,
            "error_forms": [form] if form.errors else [],
            "superadmins": User.objects.filter(role=User.Role.SUPERADMIN).order_by("username"),
        },
        status=400 if form.errors else 200,
    )


@superadmin_required
@require_POST
def user_action(request, user_id: int):
    person = get_object_or_404(User.objects.exclude(role=User.Role.SUPERADMIN), pk=user_id)
    action = request.POST.get("action", "")
    try:
        if action in ("deactivate", "reactivate"):
            staff.set_active(
                None, person.pk, action == "reactivate", actor=request.user, request=request
            )
            messages.success(
                request,
                (
                    _("%(name)s was reactivated.")
                    if action == "reactivate"
                    else _("%(name)s was deactivated and can no longer log in.")
                )
                % {"name": person.username},
            )
        elif action == "reset":
            _send_reset_link(request, person)
            messages.success(
                request,
                _("A password reset link was e-mailed to %(email)s.") % {"email": person.email},
            )
        else:
            messages.error(request, _("Unknown action."))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    except OSError:
        messages.error(request, _("The e-mail could not be sent. Try again in a while."))
    return redirect("superadmin:users")


def _send_reset_link(request, person) -> None:
    """The same e-mail as the orchestra's own reset page sends, with a link to its host."""
    if not person.email or not person.is_active:
        raise ValidationError(_("Only an active user with an e-mail address can get a link."))
    orchestra = person.orchestra
    form = HostPasswordResetForm({"email": person.email}, orchestra=orchestra)
    form.is_valid()
    url = orchestra.public_url()
    form.save(
        domain_override=url.split("://", 1)[1].rstrip("/"),
        use_https=url.startswith("https:"),
        email_template_name="accounts/password_reset_email.txt",
        subject_template_name="accounts/password_reset_subject.txt",
        extra_email_context={"orchestra": orchestra},
    )
    audit.record(
        "password.reset_link_sent",
        actor=request.user,
        orchestra=orchestra,
        request=request,
        user=person.username,
    )
