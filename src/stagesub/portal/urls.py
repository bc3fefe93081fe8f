from django.urls import path

import stagesub.converters
import stagesub.portal.converters  # noqa: F401  (registers <portal_row:...>, <portal_offer:...>)
from stagesub.portal import staff_views, views

app_name = "portal"

urlpatterns = [
    path("me/", views.start, name="start"),
    path("me/link/<readable:token>/", views.sign_in, name="sign_in"),
    path("me/sign-out/", views.sign_out, name="sign_out"),
    path("me/home/", views.home, name="home"),
    path("me/requests/<portal_offer:offer_id>/", views.answer, name="answer"),
    path("me/availability/", views.add_unavailability, name="add_unavailability"),
    path(
        "me/availability/<portal_row:pk>/delete/",
        views.remove_unavailability,
        name="remove_unavailability",
    ),
    path("me/contact/", views.contact, name="contact"),
    path("me/calendar/renew/", views.renew_calendar, name="renew_calendar"),
    path("me/calendar/<readable:token>.ics", views.calendar, name="calendar"),
    path("me/export.json", views.export, name="export"),
    # the staff's side (admins): data rights of one musician, and retention
    path("musicians/<readable:musician_id>/data/", staff_views.musician_data, name="musician_data"),
    path(
        "musicians/<readable:musician_id>/data.json",
        staff_views.musician_data_json,
        name="musician_data_json",
    ),
    path(
        "musicians/<readable:musician_id>/erase/", staff_views.musician_erase, name="musician_erase"
    ),
    path("settings/retention/", staff_views.retention_settings, name="retention"),
]
