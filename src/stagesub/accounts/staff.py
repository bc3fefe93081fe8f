"""An orchestra's staff accounts: create (operators), change role, deactivate and reactivate.

An orchestra always keeps one active admin: changes that would remove the last one are refused
under a lock on the orchestra's admin rows, so two admins demoting each other at the same
moment cannot both succeed.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from stagesub.accounts.invitations import email_taken
from stagesub.accounts.models import User
from stagesub.tenancy import audit
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.plans import refuse_beyond_staff_users
from stagesub.validation import email_address

STAFF_ROLES = (User.Role.ADMIN.value, User.Role.MEMBER.value)


def colleagues(orchestra: Orchestra):
    return User.objects.filter(orchestra=orchestra).order_by("-is_active", "role", "username")


def _keeps_an_admin(orchestra: Orchestra, leaving: User) -> None:
    # Lock every active admin row of the orchestra; a concurrent change waits, then re-reads.
    admins = list(
        User.objects.select_for_update()
        .filter(orchestra=orchestra, role=User.Role.ADMIN, is_active=True)
        .values_list("pk", flat=True)
    )
    if admins == [leaving.pk]:
        raise ValidationError(
            _("%(name)s is the orchestra's last active administrator and must stay one.")
            % {"name": leaving.get_username()}
        )


def _target(orchestra: Orchestra, user_id: int, actor: User) -> User:
    user = User.objects.filter(pk=user_id, orchestra=orchestra).first()
    if user is None:
        raise ValidationError(_("No such colleague in this orchestra."))
    if user.pk == actor.pk:
        raise ValidationError(_("You cannot change your own account here."))
    return user


def change_role(orchestra: Orchestra, user_id: int, role: str, *, actor: User, request=None):
    if role not in STAFF_ROLES:
        raise ValidationError(_("Choose a role."))
    with transaction.atomic():
        user = _target(orchestra, user_id, actor)
        if user.role == role:
            return user
        if user.role == User.Role.ADMIN and user.is_active:
            _keeps_an_admin(orchestra, user)
        User.objects.filter(pk=user.pk).update(role=role)
        audit.record(
            "user.role_changed",
            actor=actor,
            orchestra=orchestra,
            request=request,
            user=user.get_username(),
            role=role,
        )
    user.role = role
    return user


def set_active(
    orchestra: Orchestra | None, user_id: int, active: bool, *, actor: User, request=None
):
    """Deactivate (logins and sessions stop working at once) or reactivate a staff user.

    `orchestra` None: a superadmin acting on any orchestra's staff.
    """
    with transaction.atomic():
        if orchestra is None:
            user = User.objects.filter(pk=user_id).exclude(role=User.Role.SUPERADMIN).first()
            if user is None:
                raise ValidationError(_("No such orchestra user."))
        else:
            user = _target(orchestra, user_id, actor)
        if not active and user.role == User.Role.ADMIN and user.is_active:
            _keeps_an_admin(user.orchestra, user)
        if active and not user.is_active:
            # The UPDATE below bypasses the pre_save check: the plan's staff-user limit here.
            refuse_beyond_staff_users(user.orchestra, adding_pk=user.pk)
        User.objects.filter(pk=user.pk).update(is_active=active)
        audit.record(
            "user.reactivated" if active else "user.deactivated",
            actor=actor,
            orchestra=user.orchestra,
            request=request,
            user=user.get_username(),
        )
    user.is_active = active
    return user


def add_staff(orchestra: Orchestra, *, email: str, role: str, username: str, password: str) -> User:
    """An account for an operator's script (stagesub add_staff): same rules as an invitation."""
    email = email_address(email)
    if role not in STAFF_ROLES:
        raise ValidationError(_("The role must be admin or member."))
    if email_taken(email):
        raise ValidationError(_("%(email)s already has a StageSub account.") % {"email": email})
    username = User.normalize_username(username or email)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(_("The username %(name)s is taken.") % {"name": username})
    user = User(username=username, email=email, role=role, orchestra=orchestra)
    user.set_password(password)
    with transaction.atomic():
        user.save()
        audit.record("user.added", orchestra=orchestra, user=username, role=role)
    return user
