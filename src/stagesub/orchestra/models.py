from django.db import models


class DatabaseStamp(models.Model):
    """The identity stamp: which orchestra this database belongs to. Exactly one row (id = 1).

    Written once when the database is provisioned; every process checks it before it first uses
    a connection (stagesub.tenancy.connections), and isolation checks compare it.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    orchestra_id = models.UUIDField()
    subdomain = models.CharField(max_length=40)
    stamped_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="single_stamp_row")]

    def __str__(self) -> str:
        return f"stamp {self.subdomain} {self.orchestra_id}"


class IdSequence(models.Model):
    """Counters behind readable ids (MUS001, PROJ001, ...): they only ever grow.

    Deleting or archiving never gives a number back; see stagesub.orchestra.ids.
    """

    prefix = models.CharField(max_length=10, unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}: {self.last_number}"
