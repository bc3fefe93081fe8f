"""Writing the platform audit log."""

from __future__ import annotations

from stagesub.tenancy.models import AuditEvent, Orchestra


def client_ip(request) -> str | None:
    # Behind a load balancer REMOTE_ADDR is the balancer: take the client from the trusted
    # proxy chain, as login throttling does.
    from stagesub.accounts.clientaddr import client_address

    return client_address(request) or None


def record(
    action: str,
    *,
    actor=None,
    orchestra: Orchestra | None = None,
    request=None,
    **details,
) -> AuditEvent:
    actor_label = ""
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_label = actor.get_username()
    else:
        actor = None
        actor_label = details.pop("actor_label", "") or ""
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_label=actor_label,
        orchestra=orchestra,
        orchestra_label=orchestra.subdomain if orchestra else "",
        ip=client_ip(request) if request is not None else None,
        details=details,
    )
