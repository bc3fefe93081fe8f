from django.urls import path

from stagesub.offers import views

app_name = "offers"

urlpatterns = [
    path("r/<str:token>/", views.respond, name="respond"),
    path("r/<str:token>/files/<str:file_id>/", views.respond_file, name="respond_file"),
    path("projects/<str:project_id>/send/", views.send_preview, name="send_project"),
    path("projects/<str:project_id>/live/", views.live_panel, name="live"),
    path(
        "projects/<str:project_id>/needs/<str:need_id>/send/",
        views.send_preview,
        name="send_need",
    ),
    path(
        "projects/<str:project_id>/needs/<str:need_id>/quantity/",
        views.change_quantity,
        name="quantity",
    ),
    path("offers/<str:offer_id>/", views.offer_detail, name="offer"),
]
