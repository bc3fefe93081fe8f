from __future__ import annotations

from django.contrib.auth import views as auth_views

from stagesub.accounts import devices, throttling
from stagesub.accounts.forms import HostAuthenticationForm
from stagesub.tenancy import audit


class LoginView(auth_views.LoginView):
    form_class = HostAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        attempt = form.attempt
        throttling.succeeded(attempt)
        audit.record("login", actor=user, orchestra=self.request.orchestra, request=self.request)
        response = super().form_valid(form)
        devices.remember(response, attempt.device, attempt.account)
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.attempt is not None and form.attempt.throttled:
            response.status_code = 429
            response["Retry-After"] = str(form.attempt.retry_after)
        return response


class LogoutView(auth_views.LogoutView):
    template_name = "accounts/logged_out.html"
    next_page = "login"
