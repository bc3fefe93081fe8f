"""An orchestra host's account pages: those of every host plus the colleagues page."""

from django.urls import path

from stagesub.accounts import views
from stagesub.accounts.urls import app_name
from stagesub.accounts.urls import urlpatterns as common

__all__ = ["app_name", "urlpatterns"]

urlpatterns = [
    *common,
    path("users/", views.users, name="users"),
    path("users/action/", views.user_action, name="user_action"),
]
