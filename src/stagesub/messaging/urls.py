from django.urls import path

from stagesub.messaging import views

app_name = "messaging"

urlpatterns = [path("mailbox/", views.mailbox, name="mailbox")]
