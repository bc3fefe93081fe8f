"""Who may do what on an orchestra's host: the two staff roles as view decorators.

member: the day-to-day work (projects, lists, musicians, answers, group e-mail).
admin:  also the orchestra's settings, templates, users, deletions and imports.

Every view of an orchestra's host is marked with one of these (or is deliberately public,
like the answer page). OrchestraMembershipMiddleware has already refused a user of another
orchestra; these decide between the roles of the orchestra's own staff. Each decorator leaves
`stagesub_role` on the view, so tests/accounts/test_role_matrix.py can derive from the URL
patterns alone what every view expects.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _


def is_orchestra_admin(user) -> bool:
    return user.is_authenticated and user.is_active and user.role == "admin"


def refuse_member():
    raise PermissionDenied(_("Only an administrator of the orchestra can do this."))


def staff_required(view):
    """Any active staff user of this orchestra (admin or member)."""
    wrapped = login_required(view)
    wrapped.stagesub_role = "staff"
    return wrapped


def admin_required(view):
    """Only the orchestra's admins; a member gets 403 with a message that names the role."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_orchestra_admin(request.user):
            refuse_member()
        return view(request, *args, **kwargs)

    wrapped.stagesub_role = "admin"
    return wrapped


def admin_required_for_actions(*actions: str):
    """Staff view whose POSTed `action` values in `actions` (deletions) are for admins only.

    One endpoint serves several buttons (archive, pause, delete...); members keep the others.
    """

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.POST.get("action") in actions and not is_orchestra_admin(request.user):
                refuse_member()
            return view(request, *args, **kwargs)

        wrapped.stagesub_role = "staff"
        wrapped.stagesub_admin_actions = frozenset(actions)
        return wrapped

    return decorate
