from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "stagesub.web"
    verbose_name = "Web server and observability"
