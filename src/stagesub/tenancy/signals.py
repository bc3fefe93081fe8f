from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from stagesub.tenancy.models import Orchestra


@receiver([post_save, post_delete], sender=Orchestra)
def _forget_routing_entry(sender, instance: Orchestra, **kwargs) -> None:
    from stagesub.tenancy.binding import directory

    directory.forget(instance.subdomain)


@receiver(pre_save, sender=get_user_model())
def _staff_users_within_plan(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """Every way a staff user becomes active (created, invited, reactivated) meets the plan's
    staff-user limit here, once, rather than in each view that can do it (staff.set_active,
    which writes with one UPDATE, calls the same check)."""
    if raw or not instance.is_active or instance.orchestra_id is None:
        return
    if update_fields is not None and not {"is_active", "orchestra"} & set(update_fields):
        return  # e.g. Django's last_login at every login: nobody is added
    if instance.pk is not None and sender.objects.filter(pk=instance.pk, is_active=True).exists():
        return  # already counted: an edit of an active user adds no one
    from stagesub.tenancy.plans import refuse_beyond_staff_users

    orchestra = Orchestra.objects.filter(pk=instance.orchestra_id).first()
    if orchestra is not None:  # gone (a swept provisioning): the insert itself fails
        refuse_beyond_staff_users(orchestra, adding_pk=instance.pk)
