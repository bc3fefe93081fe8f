"""The error page for unhandled exceptions (handler500 of both URL configurations)."""

from django.http import HttpResponseServerError
from django.template import loader


def server_error(request):
    # No request context (context processors would query the database that may be what failed);
    # only the request id, so a person can quote it and the log line can be found.
    template = loader.get_template("500.html")
    return HttpResponseServerError(
        template.render({"request_id": getattr(request, "request_id", "")})
    )
