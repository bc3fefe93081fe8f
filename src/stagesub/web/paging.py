"""Long lists in pages of PAGE_SIZE rows (Django's Paginator), with links that keep the filters."""

from __future__ import annotations

from django.core.paginator import Page, Paginator

PAGE_SIZE = 50


def page_of(request, rows) -> tuple[Page, str]:
    """The requested page of `rows` (a query or a list) and the request's other GET
    parameters, url-encoded, for includes/pager.html to put in front of each page number."""
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    keep = request.GET.copy()
    keep.pop("page", None)
    return page, keep.urlencode()
