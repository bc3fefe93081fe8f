from django.urls import path

import stagesub.converters  # noqa: F401  (registers <readable:...>)
from stagesub.offers import views

app_name = "offers"

urlpatterns = [
    path("r/<readable:token>/", views.respond, name="respond"),
    path("r/<readable:token>/files/<readable:file_id>/", views.respond_file, name="respond_file"),
    path("projects/<readable:project_id>/send/", views.send_preview, name="send_project"),
    path("projects/<readable:project_id>/live/", views.live_panel, name="live"),
    path(
        "projects/<readable:project_id>/needs/<readable:need_id>/send/",
        views.send_preview,
        name="send_need",
    ),
    path(
        "projects/<readable:project_id>/needs/<readable:need_id>/quantity/",
        views.change_quantity,
        name="quantity",
    ),
    path("offers/<readable:offer_id>/", views.offer_detail, name="offer"),
]
