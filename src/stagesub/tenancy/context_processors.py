from django.conf import settings


def orchestra(request):
    return {"orchestra": getattr(request, "orchestra", None), "base_domain": settings.BASE_DOMAIN}
