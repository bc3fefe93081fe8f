"""Keyboard only, in a real browser: a ranking list is reordered with Tab and the arrow keys,
and the order is kept after a reload."""

from __future__ import annotations

import pytest

from stagesub.rankings import services
from stagesub.roster import services as roster
from stagesub.roster.models import Position
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def _names(page) -> list[str]:
    return [n.strip() for n in page.locator("#ranking > li a").all_inner_texts()]


def test_ranking_list_reordered_by_keyboard_only(page, orchestra_url, goteborg):
    with use_orchestra(goteborg):
        position = Position.objects.get(name="Solocellist")
        musicians = [
            roster.create_musician(
                MusicianData(
                    first_name=name,
                    last_name="Cello",
                    email=f"{name}@example.se",
                    position_ids=[position.pk],
                ),
                max_musicians=100,
            )
            for name in ("Anna", "Bertil", "Cecilia")
        ]
        ranking_list = services.create_list(position, "A")
        services.add_musicians(ranking_list, [m.pk for m in musicians])
    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    page.goto(orchestra_url(goteborg, f"/rankings/{ranking_list.ranking_list_id}/"))
    assert _names(page) == ["Anna Cello", "Bertil Cello", "Cecilia Cello"]
    # Tab from the top of the page to Cecilia's handle: the skip link comes first.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    for _ in range(60):
        page.keyboard.press("Tab")
        if "Cecilia" in (page.evaluate("document.activeElement.ariaLabel") or ""):
            break
    else:
        pytest.fail("Cecilia's handle is not reachable by Tab")
    for _ in range(2):  # one save at a time: each carries the version the last one returned
        with page.expect_response(lambda r: "/reorder/" in r.url) as response_info:
            page.keyboard.press("ArrowUp")
        assert response_info.value.status == 200
        page.wait_for_function("!document.querySelector('#ranking[aria-busy]')")
    assert "Cecilia" in page.evaluate("document.activeElement.ariaLabel")
    assert _names(page) == ["Cecilia Cello", "Anna Cello", "Bertil Cello"]
    page.reload()
    assert _names(page) == ["Cecilia Cello", "Anna Cello", "Bertil Cello"]
