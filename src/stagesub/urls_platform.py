"""URLs of the platform host (the bare base domain): landing page, login, superadmin console."""

from django.urls import include, path

from stagesub.accounts.views import LoginView, LogoutView
from stagesub.superadmin.signup_views import signup_confirm, signup_form
from stagesub.superadmin.views import landing
from stagesub.views import set_language

urlpatterns = [
    path("", landing, name="landing"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("language/", set_language, name="set_language"),
    path("superadmin/", include("stagesub.superadmin.urls")),
    path("", include("stagesub.accounts.urls")),
    path("signup/", signup_form, name="signup"),
    path("signup/confirm/<str:token>/", signup_confirm, name="signup_confirm"),
]

handler500 = "stagesub.web.views.server_error"
