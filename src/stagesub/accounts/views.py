from __future__ import annotations

from django.contrib.auth import views as auth_views

from stagesub.accounts import throttling
from stagesub.accounts.forms import HostAuthenticationForm
from stagesub.tenancy import audit


class LoginView(auth_views.LoginView):
    form_class = HostAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        throttling.clear_failures(username=user.get_username())
        audit.record("login", actor=user, orchestra=self.request.orchestra, request=self.request)
        return super().form_valid(form)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


class LogoutView(auth_views.LogoutView):
    template_name = "accounts/logged_out.html"
    next_page = "login"
