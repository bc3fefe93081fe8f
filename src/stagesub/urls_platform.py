"""URLs of the platform host (the bare base domain): landing page, login, superadmin console."""

from django.urls import include, path

from stagesub.accounts.views import LoginView, LogoutView
from stagesub.superadmin.views import landing
from stagesub.views import set_language

urlpatterns = [
    path("", landing, name="landing"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("language/", set_language, name="set_language"),
    path("superadmin/", include("stagesub.superadmin.urls")),
    path("", include("stagesub.accounts.urls")),
]

handler500 = "stagesub.web.views.server_error"
