from django.urls import path

import stagesub.converters  # noqa: F401  (registers <readable:...>)
from stagesub.office import views

app_name = "office"

urlpatterns = [
    path("activity/", views.activity_feed, name="activity"),
    path("projects/<readable:project_id>/booked/", views.booked_musicians, name="booked"),
    path(
        "projects/<readable:project_id>/booked.csv",
        views.booked_export,
        {"fmt": "csv"},
        name="booked_csv",
    ),
    path(
        "projects/<readable:project_id>/booked.xlsx",
        views.booked_export,
        {"fmt": "xlsx"},
        name="booked_xlsx",
    ),
]
