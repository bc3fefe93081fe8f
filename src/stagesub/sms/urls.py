from django.urls import path

from stagesub.sms import views

app_name = "sms"

urlpatterns = [
    path("sms/inbound/<str:secret>/", views.inbound, name="inbound"),
    path("settings/sms/", views.sms_settings, name="settings"),
]
