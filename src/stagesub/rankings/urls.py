from django.urls import path

import stagesub.converters  # noqa: F401  (registers <readable:...>)
from stagesub.rankings import views

app_name = "rankings"

urlpatterns = [
    path("rankings/", views.overview, name="overview"),
    path("rankings/new/", views.create, name="create"),
    path("rankings/<readable:ranking_list_id>/", views.detail, name="list"),
    path("rankings/<readable:ranking_list_id>/action/", views.action, name="action"),
    path("rankings/<readable:ranking_list_id>/reorder/", views.reorder, name="reorder"),
]
