"""URLs of an orchestra's host (<subdomain>.<base domain>); its database is bound for the request."""

from django.urls import include, path

from stagesub.accounts.views import LoginView, LogoutView
from stagesub.office.views import home
from stagesub.orchestra.views import orchestra_settings
from stagesub.superadmin.signup_views import welcome
from stagesub.views import set_language

urlpatterns = [
    path("", home, name="home"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("language/", set_language, name="set_language"),
    path("", include("stagesub.roster.urls")),
    path("", include("stagesub.rankings.urls")),
    path("", include("stagesub.projects.urls")),
    path("", include("stagesub.offers.urls")),
    path("", include("stagesub.messaging.urls")),
    path("", include("stagesub.office.urls")),
    path("", include("stagesub.portal.urls")),
    path("", include("stagesub.sms.urls")),
    path("settings/", orchestra_settings, name="settings"),
    path("", include("stagesub.accounts.urls_orchestra")),
    path("", include("stagesub.api.urls")),
    path("welcome/<str:token>/", welcome, name="signup_welcome"),
]

handler500 = "stagesub.web.views.server_error"
