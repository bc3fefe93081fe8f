from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from stagesub.tenancy.models import Orchestra


@receiver([post_save, post_delete], sender=Orchestra)
def _forget_routing_entry(sender, instance: Orchestra, **kwargs) -> None:
    from stagesub.tenancy.binding import directory

    directory.forget(instance.subdomain)
