from stagesub.tenancy import sides


class SmsConfig(sides.OrchestraAppConfig):
    name = "stagesub.sms"
    verbose_name = "SMS"

    def ready(self) -> None:
        from stagesub.sms import outbound  # noqa: F401  (adds SMS copies to queued messages)
