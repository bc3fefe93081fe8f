"""The baseline for the routing benchmark: the orchestra is fixed, bound once for the whole run.

It replaces OrchestraRoutingMiddleware: no host parsing, no directory lookup, no binding per
request. Everything else (sessions, auth, membership check, the view) is the same.
"""

ORCHESTRA = None


class PinnedOrchestraMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.orchestra = ORCHESTRA
        return self.get_response(request)
