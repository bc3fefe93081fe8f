"""Drag and drop in a real browser: reorder a ranking list, reload, the order is kept."""

import pytest

from stagesub.rankings import services
from stagesub.roster import services as roster
from stagesub.roster.models import Position
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def _names(page):
    return page.locator("#ranking > li a").all_inner_texts()


def test_drag_and_drop_reorder_is_saved(page, orchestra_url, goteborg):
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
            for name in ("Anna", "Bertil", "Cecilia", "David")
        ]
        ranking_list = services.create_list(position, "A")
        services.add_musicians(ranking_list, [m.pk for m in musicians])
    # given the list page, logged in on Göteborg's host
    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    page.goto(orchestra_url(goteborg, f"/rankings/{ranking_list.ranking_list_id}/"))
    assert _names(page) == ["Anna Cello", "Bertil Cello", "Cecilia Cello", "David Cello"]
    # when David is dragged to the top (slowly, as a hand would, so Sortable sees every step)
    source = page.locator("#ranking > li").nth(3).locator(".handle")
    target = page.locator("#ranking > li").nth(0)
    box_s, box_t = source.bounding_box(), target.bounding_box()
    x = box_s["x"] + box_s["width"] / 2
    start_y, end_y = box_s["y"] + box_s["height"] / 2, box_t["y"] + 3
    page.mouse.move(x, start_y)
    page.mouse.down()
    for step in range(1, 31):
        page.mouse.move(x, start_y + (end_y - start_y) * step / 30)
        page.wait_for_timeout(15)
    page.wait_for_timeout(200)  # let Sortable's swap animation settle
    with page.expect_response(lambda r: "/reorder/" in r.url) as response_info:
        page.mouse.up()
    assert response_info.value.status == 200, response_info.value.text()
    page.wait_for_function("!document.querySelector('#ranking').hasAttribute('aria-busy')")
    assert _names(page)[0] == "David Cello"
    # then after a reload the new order is still there
    page.reload()
    assert _names(page) == ["David Cello", "Anna Cello", "Bertil Cello", "Cecilia Cello"]
    assert page.locator("#ranking .rank").all_inner_texts() == ["1.", "2.", "3.", "4."]
