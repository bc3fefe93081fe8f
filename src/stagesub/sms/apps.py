from stagesub.tenancy import sides


class SmsConfig(sides.OrchestraAppConfig):
    name = "stagesub.sms"
    verbose_name = "SMS"
