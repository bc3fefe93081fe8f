from django.urls import path

import stagesub.converters  # noqa: F401  (registers <readable:...>)
from stagesub.sms import views

app_name = "sms"

urlpatterns = [
    path("sms/inbound/<str:secret>/", views.inbound, name="inbound"),
    path("settings/sms/", views.sms_settings, name="settings"),
    path("s/<readable:token>/", views.short_link, name="short_link"),
]
