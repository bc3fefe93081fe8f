"""The stylesheet and vendored scripts the pages link to are found by Django's static finders."""

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.parametrize(
    "path",
    [
        "stagesub/app.css",
        "stagesub/vendor/htmx.min.js",
        "stagesub/vendor/Sortable.min.js",
        "stagesub/sortable-lists.js",
        "stagesub/app.js",
    ],
)
def test_static_file_is_found(path):
    assert finders.find(path) is not None
