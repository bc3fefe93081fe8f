"""Plans and their limits, defined here and nowhere else.

An orchestra's limits are its plan's, with per-orchestra overrides (nullable fields on
Orchestra) taking precedence. They are derived when used, never copied onto the orchestra, so
changing the plan changes the limits at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

# Share of a limit at which the orchestra's dashboard warns, and warns louder.
WARN_PERCENT = 80
ALERT_PERCENT = 90


@dataclass(frozen=True)
class Limits:
    musicians: int
    projects: int  # not archived
    staff_users: int  # the orchestra's admins and members (control database)
    storage_mb: int  # uploaded files under the orchestra's storage root


PLAN_LIMITS: dict[str, Limits] = {
    "small": Limits(musicians=60, projects=10, staff_users=3, storage_mb=1_000),
    "medium": Limits(musicians=250, projects=40, staff_users=10, storage_mb=5_000),
    "enterprise": Limits(musicians=1_000, projects=150, staff_users=50, storage_mb=25_000),
}

# Each limit and the Orchestra field that overrides it (NULL: the plan's).
OVERRIDE_FIELDS: dict[str, str] = {
    "musicians": "musicians_limit",
    "projects": "projects_limit",
    "staff_users": "staff_users_limit",
    "storage_mb": "storage_mb_limit",
}

LIMIT_LABELS = {
    "musicians": _("Musicians"),
    "projects": _("Projects"),
    "staff_users": _("Staff users"),
    "storage_mb": _("File storage (MB)"),
}


def limits_for(orchestra) -> Limits:
    plan = PLAN_LIMITS[orchestra.plan]
    overrides = {
        name: getattr(orchestra, field)
        for name, field in OVERRIDE_FIELDS.items()
        if getattr(orchestra, field) is not None
    }
    return dataclasses.replace(plan, **overrides)


@dataclass(frozen=True)
class Usage:
    name: str
    used: int
    limit: int

    @property
    def label(self) -> str:
        return str(LIMIT_LABELS[self.name])

    @property
    def percent(self) -> int:
        return 100 if self.limit <= 0 else min(100, self.used * 100 // self.limit)

    @property
    def level(self) -> str:
        """ok, warn (80 %), alert (90 %) or full (nothing more can be added)."""
        if self.used >= self.limit:
            return "full"
        if self.percent >= ALERT_PERCENT:
            return "alert"
        return "warn" if self.percent >= WARN_PERCENT else "ok"


def storage_used_mb(orchestra) -> int:
    """Megabytes (rounded up) of files under the orchestra's storage root (orchestra.storage)."""
    return -(-storage_bytes(orchestra) // (1024 * 1024))


def storage_bytes(orchestra) -> int:
    root = Path(settings.DATA_DIR) / "files" / orchestra.id.hex
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def refuse_beyond_storage(orchestra) -> None:
    """Refuse (ValidationError) when the orchestra's files, the new one already written among
    them, go beyond its storage limit. The caller holds a lock that serialises uploads."""
    limit = limits_for(orchestra).storage_mb
    used_mb = -(-storage_bytes(orchestra) // (1024 * 1024))
    if used_mb > limit:
        raise ValidationError(
            _(
                "This file would take the orchestra's files to %(used)s MB; your plan allows "
                "%(limit)s MB. Remove files you no longer need, or contact the platform "
                "(%(contact)s) to raise the limit."
            )
            % {"used": used_mb, "limit": limit, "contact": settings.PLATFORM_CONTACT}
        )


def refuse_beyond_staff_users(orchestra, *, adding_pk=None) -> None:
    """Refuse (ValidationError) one more active staff user when the plan's limit is reached."""
    limit = limits_for(orchestra).staff_users
    active = orchestra.users.filter(is_active=True).exclude(pk=adding_pk).count()
    if active >= limit:
        raise ValidationError(
            _(
                "Your plan allows %(limit)s staff users and %(used)s are active. Deactivate a "
                "user, or contact the platform (%(contact)s) to raise the limit."
            )
            % {"used": active, "limit": limit, "contact": settings.PLATFORM_CONTACT}
        )


def current_usage(orchestra) -> dict[str, int]:
    """What the orchestra uses of each limit. Opens its database (binds it for the count)."""
    from stagesub.projects.models import Project
    from stagesub.roster.models import Musician
    from stagesub.tenancy.binding import use_orchestra

    with use_orchestra(orchestra):
        musicians = Musician.objects.exclude(status=Musician.Status.ARCHIVED).count()
        projects = Project.objects.filter(is_archived=False).count()
    return {
        "musicians": musicians,
        "projects": projects,
        "staff_users": orchestra.users.filter(is_active=True).count(),
        "storage_mb": storage_used_mb(orchestra),
    }


def usage_report(orchestra) -> list[Usage]:
    limits = limits_for(orchestra)
    used = current_usage(orchestra)
    return [Usage(name, used[name], getattr(limits, name)) for name in OVERRIDE_FIELDS]


def change_plan(orchestra, plan: str, overrides: dict[str, int | None], *, actor=None) -> Limits:
    """Give the orchestra a plan and overrides; refused when a limit would be below usage.

    `overrides` maps limit names (OVERRIDE_FIELDS) to a number, or None for the plan's value.
    """
    from stagesub.tenancy import audit

    if plan not in PLAN_LIMITS:
        raise ValidationError(_("Unknown plan %(plan)s.") % {"plan": plan})
    unknown = set(overrides) - set(OVERRIDE_FIELDS)
    if unknown:
        raise ValueError(f"unknown limits: {sorted(unknown)}")
    proposed = dataclasses.replace(
        PLAN_LIMITS[plan], **{k: v for k, v in overrides.items() if v is not None}
    )
    used = current_usage(orchestra)
    below = [name for name in OVERRIDE_FIELDS if getattr(proposed, name) < used[name]]
    if below:
        raise ValidationError(
            [
                _("%(label)s: the new limit %(limit)s is below the %(used)s in use.")
                % {
                    "label": LIMIT_LABELS[name],
                    "limit": getattr(proposed, name),
                    "used": used[name],
                }
                for name in below
            ]
        )
    values = {"plan": plan, **{OVERRIDE_FIELDS[k]: v for k, v in overrides.items()}}
    with transaction.atomic():
        for field, value in values.items():
            setattr(orchestra, field, value)
        # save(), not update(): its signal drops this process's routing cache entry, so the
        # next request here already sees the new limits (other processes within seconds).
        orchestra.save(update_fields=[*values, "updated_at"])
        audit.record(
            "orchestra.plan_changed",
            actor=actor,
            orchestra=orchestra,
            plan=plan,
            limits=dataclasses.asdict(proposed),
        )
    return proposed
