from django.urls import path

import stagesub.converters  # noqa: F401  (registers <readable:...>)
from stagesub.messaging import views

app_name = "messaging"

urlpatterns = [
    path("mailbox/", views.mailbox, name="mailbox"),
    path("templates/", views.template_list, name="templates"),
    path("templates/sender/", views.sender_settings, name="sender"),
    path("templates/<slug:kind>/<slug:language>/", views.template_edit, name="template"),
    path(
        "templates/<slug:kind>/<slug:language>/preview/",
        views.template_preview,
        name="template_preview",
    ),
    path(
        "templates/<slug:kind>/<slug:language>/reset/",
        views.template_reset,
        name="template_reset",
    ),
    path("group-email/", views.group_email, name="group_email"),
    path("group-email/sent/", views.group_email_history, name="group_email_history"),
    path("group-email/<int:pk>/", views.group_email_detail, name="group_email_detail"),
    path("unsubscribe/<readable:token>/", views.unsubscribe, name="unsubscribe"),
]
