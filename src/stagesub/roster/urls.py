from django.urls import path

import stagesub.converters  # noqa: F401  (registers <readable:...>)
from stagesub.roster import views

app_name = "roster"

urlpatterns = [
    path("musicians/", views.musician_list, name="musicians"),
    path("musicians/new/", views.musician_create, name="musician_create"),
    path("musicians/import/", views.musician_import, name="import"),
    path("musicians/export.<str:fmt>", views.musician_export, name="export"),
    path("musicians/<readable:musician_id>/", views.musician_detail, name="musician"),
    path("musicians/<readable:musician_id>/edit/", views.musician_edit, name="musician_edit"),
    path("musicians/<readable:musician_id>/status/", views.musician_status, name="musician_status"),
    path("instruments/", views.instrument_list, name="instruments"),
    path("instruments/new/", views.instrument_action, name="instrument_create"),
    path("instruments/reorder/", views.instrument_reorder, name="instrument_reorder"),
    path("instruments/<int:pk>/", views.instrument_action, name="instrument_action"),
    path(
        "instruments/<int:pk>/positions/reorder/", views.position_reorder, name="position_reorder"
    ),
    path("positions/<int:pk>/", views.position_action, name="position_action"),
]
