"""Invitations: an admin (or a superadmin) invites someone by e-mail; they choose their own
username and password through a link that works once, before it expires, on one host only.

Superadmin invitations belong to the platform host, colleague invitations to their orchestra's
host; a link opened on any other host is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stagesub.accounts.models import Invitation, User
from stagesub.tenancy import audit
from stagesub.tenancy.models import Orchestra
from stagesub.validation import email_address

STAFF_ROLES = (User.Role.ADMIN, User.Role.MEMBER)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def host_url(orchestra: Orchestra | None) -> str:
    """The address links in mail point to: the orchestra's host, or the platform's."""
    if orchestra is not None:
        return orchestra.public_url()
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
    return f"{settings.PUBLIC_SCHEME}://{settings.BASE_DOMAIN}{port}/"


def email_taken(email: str) -> bool:
    """One account per address on the whole platform (every orchestra, superadmins too)."""
    return User.objects.filter(email__iexact=email).exists()


def _refuse_taken(email: str) -> None:
    if email_taken(email):
        raise ValidationError(
            {
                "email": _(
                    "%(email)s already has a StageSub account (here or in another orchestra). "
                    "One address can have one account: ask them to use it, or invite another "
                    "address."
                )
                % {"email": email}
            }
        )


def invite(
    *, email: str, role: str, orchestra: Orchestra | None, invited_by: User, request=None
) -> Invitation:
    """Create the invitation and e-mail its link; a mail failure leaves nothing behind."""
    try:
        email = email_address(email)
    except ValidationError as error:
        raise ValidationError({"email": error.messages}) from error
    if (orchestra is None) != (role == User.Role.SUPERADMIN) or role not in User.Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    _refuse_taken(email)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            token_hash=_hash(token),
            email=email,
            role=role,
            orchestra=orchestra,
            invited_by=invited_by,
            created_at=now,
            expires_at=now + timedelta(hours=settings.INVITATION_VALID_HOURS),
        )
        audit.record(
            "invitation.sent",
            actor=invited_by,
            orchestra=orchestra,
            request=request,
            email=email,
            role=role,
        )
        # Sent inside the transaction: when the mail server refuses, no invitation exists
        # that nobody received.
        _send(invitation, token, invited_by)
    return invitation


def _send(invitation: Invitation, token: str, invited_by: User) -> None:
    link = f"{host_url(invitation.orchestra)}invitation/{token}/"
    where = invitation.orchestra.name if invitation.orchestra else _("the StageSub platform")
    body = _(
        "%(inviter)s has invited you to %(where)s as %(role)s.\n\n"
        "Choose your username and password here:\n%(link)s\n\n"
        "The link works once and expires in %(hours)d hours. If you did not expect this "
        "invitation, ignore this e-mail."
    ) % {
        "inviter": invited_by.get_full_name() or invited_by.get_username(),
        "where": where,
        "role": invitation.get_role_display().lower(),
        "link": link,
        "hours": settings.INVITATION_VALID_HOURS,
    }
    send_mail(
        _("Invitation to %(where)s") % {"where": where},
        body,
        settings.DEFAULT_FROM_EMAIL,
        [invitation.email],
    )


class InvitationUnusable(Exception):
    """The link cannot be used; `reason` says why in words for the person holding it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _usable(invitation: Invitation | None, orchestra: Orchestra | None) -> Invitation:
    if invitation is None:
        raise InvitationUnusable(_("This invitation link is not valid. Check that it is complete."))
    if invitation.orchestra_id != (orchestra.pk if orchestra else None):
        raise InvitationUnusable(
            _("This invitation belongs to another address. Open the link exactly as it was sent.")
        )
    if invitation.accepted_at is not None:
        raise InvitationUnusable(
            _("This invitation has already been used. Log in, or reset your password.")
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable(
            _("This invitation has expired. Ask the person who invited you for a new one.")
        )
    return invitation


def find(token: str, orchestra: Orchestra | None) -> Invitation:
    """The invitation this link stands for on this host, or InvitationUnusable."""
    return _usable(Invitation.objects.filter(token_hash=_hash(token)).first(), orchestra)


@dataclass(frozen=True)
class NewAccount:
    username: str
    password: str
    first_name: str = ""
    last_name: str = ""


def accept(token: str, orchestra: Orchestra | None, account: NewAccount, request=None) -> User:
    """Create the invited account. The invitation is claimed by a conditional UPDATE in the same
    transaction, so of two concurrent uses exactly one creates an account."""
    invitation = find(token, orchestra)
    candidate = User(
        username=User.normalize_username(account.username.strip()),
        email=invitation.email,
        first_name=account.first_name,
        last_name=account.last_name,
        role=invitation.role,
        orchestra=orchestra,
    )
    _validate_account(candidate, account.password)
    now = timezone.now()
    with transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, expires_at__gt=now
        ).update(accepted_at=now)
        if claimed != 1:
            # Someone else used the link between our read and now: say what it is now.
            _usable(Invitation.objects.get(pk=invitation.pk), orchestra)
            raise InvitationUnusable(_("This invitation has already been used."))
        _refuse_taken(invitation.email)
        candidate.set_password(account.password)
        candidate.is_staff = False
        candidate.save()
        Invitation.objects.filter(pk=invitation.pk).update(accepted_user=candidate)
        audit.record(
            "invitation.accepted",
            actor=candidate,
            orchestra=orchestra,
            request=request,
            email=invitation.email,
            role=invitation.role,
        )
    return candidate


def _validate_account(candidate: User, password: str) -> None:
    errors: dict[str, list[str]] = {}
    try:
        candidate.clean_fields(exclude=["password", "orchestra", "role", "email", "last_login"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if (
        "username" not in errors
        and User.objects.filter(username__iexact=candidate.username).exists()
    ):
        errors["username"] = [_("That username is taken. Choose another.")]
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as error:
        errors["password1"] = error.messages
    if errors:
        raise ValidationError(errors)
