from django.db import models


class ApiToken(models.Model):
    """A bearer token of this orchestra; only the SHA-256 of the token is stored."""

    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    can_write = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Fixed rate-limit window kept in the database so every server process shares it.
    window_start = models.DateTimeField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name
