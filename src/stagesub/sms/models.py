"""Each orchestra's SMS account and the replies it received (in the orchestra's own database)."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from stagesub.crypto import decrypt_secret, encrypt_secret


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(24)


class SmsSettings(models.Model):
    """The orchestra's 46elks account (one row, id = 1; SMS off when absent)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    enabled = models.BooleanField(_("send SMS"), default=False)
    api_username = models.CharField(_("API username"), max_length=100, blank=True, default="")
    # Fernet ciphertext (stagesub.crypto): a copied database file does not leak the key.
    api_password_encrypted = models.TextField(blank=True, default="")
    # An E.164 number (needed for answers by reply) or a name of at most 11 characters.
    sender = models.CharField(_("sender number or name"), max_length=15, blank=True, default="")
    # Part of the inbound webhook's URL: the provider proves it is the provider by knowing it.
    webhook_secret = models.CharField(max_length=64, default=new_webhook_secret)
    send_request = models.BooleanField(_("requests"), default=True)
    send_reminder = models.BooleanField(_("reminders"), default=True)
    send_confirmation = models.BooleanField(_("confirmations"), default=False)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="single_sms_row")]

    def __str__(self) -> str:
        return "sms settings"

    @classmethod
    def current(cls) -> SmsSettings | None:
        # Read without creating: the webhook must not write settings.
        return cls.objects.filter(pk=1).first()

    def set_api_password(self, password: str) -> None:
        self.api_password_encrypted = encrypt_secret(password)

    def api_password(self) -> str:
        return decrypt_secret(self.api_password_encrypted) if self.api_password_encrypted else ""


class InboundSms(models.Model):
    """One reply as the provider delivered it; its id is unique, so a redelivery is a no-op."""

    class Outcome(models.TextChoices):
        ANSWERED = "answered", _("Answer recorded")
        REFUSED = "refused", _("Answer not recorded")
        UNKNOWN_NUMBER = "unknown_number", _("Unknown number")
        UNKNOWN_CODE = "unknown_code", _("Unknown code")
        NO_OPEN = "no_open", _("No open request")
        AMBIGUOUS = "ambiguous", _("Several open requests")
        UNCLEAR = "unclear", _("Not understood")

    provider_id = models.CharField(max_length=100, unique=True)
    from_number = models.CharField(max_length=20)
    body = models.TextField()
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    offer = models.ForeignKey(
        "offers.Offer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reply = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.provider_id} from {self.from_number} ({self.outcome})"
