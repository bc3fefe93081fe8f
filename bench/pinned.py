"""The baseline for the routing benchmark: one orchestra, fixed for the whole run.

It stands where OrchestraRoutingMiddleware stands, and does only what a single-tenant site
would have as constants: no Host parsing, no directory lookup, no binding per request (the
benchmark binds the orchestra once around each block of requests with use_orchestra). Every
other middleware, the session, the user, the membership check and the view are the same.
"""

ORCHESTRA = None
URLCONF = "stagesub.urls_orchestra"


class PinnedOrchestraMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.orchestra = ORCHESTRA
        request.urlconf = URLCONF
        return self.get_response(request)
