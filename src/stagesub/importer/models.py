"""Which source rows an import has already written, so a second run skips them."""

from django.db import models


class ImportedRow(models.Model):
    """One row of the original's database (table + its integer id) and the row it became here."""

    source_table = models.CharField(max_length=40)
    source_key = models.CharField(max_length=64)
    target_pk = models.PositiveBigIntegerField()
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_table", "source_key"], name="imported_row_once")
        ]

    def __str__(self) -> str:
        return f"{self.source_table}:{self.source_key} -> {self.target_pk}"
