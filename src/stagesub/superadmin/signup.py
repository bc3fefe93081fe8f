"""Self-service signup: apply, confirm the e-mail address, get an orchestra and a login link.

1. `apply` (public form on the platform host) records a pending SignupRequest and mails a
   signed confirmation link that expires (SIGNUP_CONFIRM_HOURS). Refused while an isolation
   incident is open, and beyond SIGNUP_PER_ADDRESS_PER_HOUR / SIGNUP_PER_EMAIL_PER_DAY (counted
   from the audit log, which outlives the removed requests).
2. `confirm` turns it into a console ProvisioningJob for the worker.
3. `finish` (the worker, after the job) makes the new admin's password unusable (the generated
   one is never shown or sent) and mails a one-time link to the orchestra's own host where the
   admin sets a password: signed, expiring, bound to that orchestra, and void once used (it
   carries a digest of the password hash, which setting a password changes).
Every step is in the audit log; `expire_pending` (worker) removes unconfirmed requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.signup_models import SignupRequest
from stagesub.tenancy import audit
from stagesub.tenancy.models import AuditEvent, IsolationIncident, Orchestra
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.signup")

CONFIRM_SALT = "stagesub.signup.confirm"
WELCOME_SALT = "stagesub.signup.welcome"


class SignupRefused(Exception):
    """The signup cannot go on; the message says why. `status` is the HTTP answer for it."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Application:
    orchestra_name: str
    subdomain: str
    contact_name: str
    email: str


def platform_url(path: str) -> str:
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
    return f"{settings.PUBLIC_SCHEME}://{settings.BASE_DOMAIN}{port}{path}"


def refuse_while_incident_open() -> None:
    if IsolationIncident.open_incidents().exists():
        raise SignupRefused(
            _("New orchestras cannot be created right now. Please try again later."), 503
        )


def _check_rate(ip: str | None, email: str) -> None:
    now = timezone.now()
    requested = AuditEvent.objects.filter(action="signup.requested")
    if ip and (
        requested.filter(ip=ip, at__gte=now - timedelta(hours=1)).count()
        >= settings.SIGNUP_PER_ADDRESS_PER_HOUR
    ):
        raise SignupRefused(_("Too many signups from your address. Try again in an hour."), 429)
    if (
        requested.filter(details__email=email, at__gte=now - timedelta(days=1)).count()
        >= settings.SIGNUP_PER_EMAIL_PER_DAY
    ):
        raise SignupRefused(
            _("Too many signups for this e-mail address today. Try again tomorrow."), 429
        )


# Any constant that no other advisory lock of the platform uses.
_SIGNUP_LOCK = 0x5349474E  # "SIGN"


def _serialise_signups() -> None:
    """Count and insert one signup at a time, so concurrent requests cannot overrun a limit.

    SQLite's control transactions are IMMEDIATE (one writer from BEGIN on); PostgreSQL takes
    a transaction-level advisory lock. Signups are rare: one lock for all of them is enough.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SIGNUP_LOCK])


def apply(application: Application, *, request) -> SignupRequest:
    """Record the application and mail its confirmation link (the form has validated it)."""
    refuse_while_incident_open()
    email = application.email.strip().lower()
    ip = audit.client_ip(request)
    with transaction.atomic():
        _serialise_signups()
        _check_rate(ip, email)
        signup = SignupRequest.objects.create(
            orchestra_name=application.orchestra_name,
            subdomain=application.subdomain,
            contact_name=application.contact_name,
            email=email,
            ip=ip,
            expires_at=timezone.now() + timedelta(hours=settings.SIGNUP_CONFIRM_HOURS),
        )
        audit.record(
            "signup.requested",
            request=request,
            actor_label=email,
            email=email,
            subdomain=signup.subdomain,
            name=signup.orchestra_name,
            signup=str(signup.pk),
        )
    link = platform_url(f"/signup/confirm/{confirmation_token(signup)}/")
    try:
        _send_confirmation(signup, link)
    except Exception:
        logger.exception("signup %s: the confirmation mail could not be sent", signup.pk)
        signup.delete()
        raise SignupRefused(
            _("We could not send the confirmation e-mail just now. Please try again later."), 503
        ) from None
    return signup


def _send_confirmation(signup: SignupRequest, link: str) -> None:
    send_mail(
        _("Confirm your StageSub signup"),
        _(
            "Hello %(name)s,\n\nsomeone (hopefully you) asked for a StageSub orchestra "
            "%(orchestra)s at %(subdomain)s.%(domain)s with this address.\n\nConfirm within "
            "%(hours)s hours by opening:\n%(link)s\n\nIf it was not you, ignore this message: "
            "nothing is created without the confirmation.\n"
        )
        % {
            "name": signup.contact_name,
            "orchestra": signup.orchestra_name,
            "subdomain": signup.subdomain,
            "domain": settings.BASE_DOMAIN,
            "hours": f"{settings.SIGNUP_CONFIRM_HOURS:g}",
            "link": link,
        },
        settings.DEFAULT_FROM_EMAIL,
        [signup.email],
    )


def confirmation_token(signup: SignupRequest) -> str:
    return signing.dumps(str(signup.pk), salt=CONFIRM_SALT, compress=True)


def signup_for_token(token: str) -> SignupRequest:
    """The pending signup the token names; refused when forged, expired or already used."""
    try:
        signup_id = signing.loads(
            token, salt=CONFIRM_SALT, max_age=timedelta(hours=settings.SIGNUP_CONFIRM_HOURS)
        )
    except signing.SignatureExpired:
        raise SignupRefused(
            _("This confirmation link has expired. Please sign up again."), 410
        ) from None
    except signing.BadSignature:
        raise SignupRefused(_("This confirmation link is not valid."), 404) from None
    signup = SignupRequest.objects.filter(pk=signup_id).first()
    if signup is None:
        raise SignupRefused(_("This confirmation link has expired. Please sign up again."), 410)
    if signup.status != SignupRequest.Status.PENDING:
        raise SignupRefused(_("This signup is already confirmed."), 409)
    return signup


def confirm(token: str, *, request) -> SignupRequest:
    """Confirm the address and queue the provisioning job (once, however often it is posted)."""
    from stagesub.superadmin.signup_tasks import run_signup_job

    refuse_while_incident_open()
    signup_id = signup_for_token(token).pk
    with transaction.atomic():
        signup = SignupRequest.objects.select_for_update().get(pk=signup_id)
        if signup.status != SignupRequest.Status.PENDING:
            raise SignupRefused(_("This signup is already confirmed."), 409)
        # Another confirmed signup (or a console job) may be creating it right now: its
        # orchestra row appears only when the worker gets to it.
        if (
            Orchestra.objects.filter(subdomain=signup.subdomain).exists()
            or ProvisioningJob.objects.filter(
                kind=ProvisioningJob.Kind.PROVISION,
                subdomain=signup.subdomain,
                status__in=[ProvisioningJob.Status.QUEUED, ProvisioningJob.Status.RUNNING],
            ).exists()
        ):
            raise SignupRefused(
                _(
                    "The address %(subdomain)s was taken meanwhile. Please sign up again with another."
                )
                % {"subdomain": signup.subdomain}
            )
        job = ProvisioningJob.objects.create(
            subdomain=signup.subdomain,
            name=signup.orchestra_name,
            contact_name=signup.contact_name,
            contact_email=signup.email,
            plan=settings.SIGNUP_PLAN,
        )
        signup.status = SignupRequest.Status.CONFIRMED
        signup.confirmed_at = timezone.now()
        signup.job = job
        signup.save(update_fields=["status", "confirmed_at", "job"])
        audit.record(
            "signup.confirmed",
            request=request,
            actor_label=signup.email,
            email=signup.email,
            subdomain=signup.subdomain,
            signup=str(signup.pk),
            job=str(job.pk),
        )
        transaction.on_commit(lambda: run_signup_job.enqueue(str(signup.pk)))
    return signup


# --- After provisioning: the login link ------------------------------------------------------


def _password_digest(user) -> str:
    return salted_hmac(WELCOME_SALT, user.password).hexdigest()[:20]


def welcome_token(user) -> str:
    return signing.dumps(
        {"u": user.pk, "o": str(user.orchestra_id), "p": _password_digest(user)},
        salt=WELCOME_SALT,
        compress=True,
    )


def user_for_welcome_token(token: str, orchestra: Orchestra):
    """The admin the link was made for, on this orchestra's host only, if still unused."""
    try:
        data = signing.loads(
            token, salt=WELCOME_SALT, max_age=timedelta(hours=settings.SIGNUP_LOGIN_LINK_HOURS)
        )
    except signing.SignatureExpired:
        raise SignupRefused(
            _("This link has expired. Ask StageSub's support for a new one."), 410
        ) from None
    except signing.BadSignature:
        raise SignupRefused(_("This link is not valid."), 404) from None
    if data.get("o") != str(orchestra.pk):
        # A link of another orchestra's admin: refused here, without saying whose it is.
        raise SignupRefused(_("This link is not valid."), 404)
    user = get_user_model().objects.filter(pk=data.get("u"), orchestra=orchestra).first()
    if user is None or not user.is_active:
        raise SignupRefused(_("This link is not valid."), 404)
    if not constant_time_compare(data.get("p", ""), _password_digest(user)):
        raise SignupRefused(_("This link has been used already. Log in with your password."), 410)
    return user


def finish(signup_id: str) -> SignupRequest:
    """After the worker ran the job: e-mail the login link, or record the failure."""
    signup = SignupRequest.objects.select_related("job").get(pk=signup_id)
    job = signup.job
    succeeded = job is not None and job.status == ProvisioningJob.Status.SUCCEEDED
    outcome = SignupRequest.Status.PROVISIONED if succeeded else SignupRequest.Status.FAILED
    # Claimed with a conditional UPDATE: finishing twice would mail a second link and, worse,
    # make a password the admin has meanwhile chosen unusable.
    if not SignupRequest.objects.filter(pk=signup.pk, status=SignupRequest.Status.CONFIRMED).update(
        status=outcome
    ):
        return signup
    signup.status = outcome
    if not succeeded:
        signup.error = job.error if job else "no provisioning job"
        signup.save(update_fields=["error"])
        audit.record(
            "signup.failed",
            actor_label=signup.email,
            subdomain=signup.subdomain,
            signup=str(signup.pk),
            error=signup.error[:500],
        )
        # The applicant hears that it failed, not why (the error is for the operators).
        send_mail(
            _("Your orchestra could not be created"),
            _(
                "Hello %(name)s,\n\nwe could not create %(orchestra)s at %(subdomain)s.%(domain)s. "
                "Our operators have been told. You are welcome to sign up again: %(link)s\n"
            )
            % {
                "name": signup.contact_name,
                "orchestra": signup.orchestra_name,
                "subdomain": signup.subdomain,
                "domain": settings.BASE_DOMAIN,
                "link": platform_url("/signup/"),
            },
            settings.DEFAULT_FROM_EMAIL,
            [signup.email],
            fail_silently=True,
        )
        return signup
    # The generated password is never shown or sent: forget it and make it unusable, so the
    # e-mailed link (which sets one) is the only way in.
    ProvisioningJob.objects.filter(pk=job.pk).update(
        admin_password_encrypted="", password_shown=True
    )
    admin = get_user_model().objects.get(username=job.admin_username, orchestra=job.orchestra)
    admin.set_unusable_password()
    admin.save(update_fields=["password"])
    orchestra = job.orchestra
    link = f"{orchestra.public_url()}welcome/{welcome_token(admin)}/"
    try:
        _send_login_link(signup, orchestra, admin, link)
    except Exception as exc:
        # The orchestra exists; superadmins see the signup with this error on the console.
        logger.exception("signup %s: the login link could not be sent", signup.pk)
        signup.error = f"login link not sent: {type(exc).__name__}: {exc}"
        signup.save(update_fields=["error"])
    audit.record(
        "signup.provisioned",
        actor_label=signup.email,
        orchestra=orchestra,
        subdomain=signup.subdomain,
        signup=str(signup.pk),
        mailed=not signup.error,
    )
    return signup


def _send_login_link(signup: SignupRequest, orchestra: Orchestra, admin, link: str) -> None:
    send_mail(
        _("Your orchestra %(name)s is ready") % {"name": orchestra.name},
        _(
            "Hello %(name)s,\n\n%(orchestra)s is ready at %(url)s\n\nYour username is "
            "%(username)s. Choose your password here (the link works once, within %(hours)s "
            "hours):\n%(link)s\n"
        )
        % {
            "name": signup.contact_name,
            "orchestra": orchestra.name,
            "url": orchestra.public_url(),
            "username": admin.get_username(),
            "hours": f"{settings.SIGNUP_LOGIN_LINK_HOURS:g}",
            "link": link,
        },
        settings.DEFAULT_FROM_EMAIL,
        [signup.email],
    )


@periodic_job("signup.expire", interval=lambda: 300.0)
def expire_pending() -> str:
    """Remove signups whose confirmation window has passed (the audit log keeps them)."""
    expired = list(
        SignupRequest.objects.filter(
            status=SignupRequest.Status.PENDING, expires_at__lt=timezone.now()
        ).values_list("pk", "subdomain", "email")
    )
    for pk, subdomain, email in expired:
        # Deleted only while still pending: a confirmation that won the race keeps its row.
        if SignupRequest.objects.filter(pk=pk, status=SignupRequest.Status.PENDING).delete()[0]:
            audit.record("signup.expired", actor_label=email, subdomain=subdomain, signup=str(pk))
    return f"{len(expired)} unconfirmed signups removed"
