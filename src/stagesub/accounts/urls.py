"""Account pages on every host (orchestra and platform): the invitation link, the second
factor, one's own password, and password reset by e-mailed link."""

from django.urls import path

from stagesub.accounts import views
from stagesub.accounts.roles import staff_required

app_name = "accounts"

urlpatterns = [
    path("login/code/", views.login_code, name="login_code"),
    path("invitation/<str:token>/", views.invitation_accept, name="invitation"),
    path("account/", views.account, name="account"),
    path("account/second-factor/", views.second_factor_setup, name="second_factor"),
    path(
        "account/password/",
        staff_required(views.PasswordChangeView.as_view()),
        name="password_change",
    ),
    # Public by design: for people who cannot log in; the e-mailed link is the permission.
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
