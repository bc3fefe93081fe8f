"""An answer's round trips: every answer pays them under the need's lock (issue 10, 400/s).

The need is locked, its offers are read once (their status and whether the response time is
over: the answered offer's own row is among them), and the decision is written. Reading the
answered offer on its own as well was one more statement on every answer.
"""

import datetime

from django.db import connections
from django.test.utils import CaptureQueriesContext

from stagesub.offers import services
from stagesub.offers.models import Offer
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from tests.offers.test_flow import make_need

T0 = datetime.datetime(2027, 3, 1, 9, 0, tzinfo=datetime.UTC)
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def statements(captured) -> list[str]:
    return [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)
    ]


def test_a_no_that_asks_nobody_is_four_statements(goteborg):
    need = make_need(goteborg, "first_come", quantity=2, count=5)
    with use_orchestra(goteborg):
        offers = services.send(need, now=T0).created
        with CaptureQueriesContext(connections[current_binding().alias]) as captured:
            outcome = services.answer(offers[0], accepted=False, now=T0)
        assert not outcome.refused
        assert Offer.objects.get(pk=offers[0].pk).status == "declined"
    # lock the need, read its offers, update the answered one, log the event
    assert len(statements(captured)) == 4, statements(captured)


def test_an_answer_after_the_response_time_is_still_a_timeout(goteborg):
    need = make_need(goteborg, "first_come", quantity=2, count=3)
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
        late = offer.expires_at + datetime.timedelta(seconds=1)
        services.answer(offer, accepted=True, now=late)
        assert Offer.objects.get(pk=offer.pk).status == "timed_out"
        # exactly at the deadline it is over too (as before: now >= expires_at)
        other = Offer.objects.filter(need=need, status="pending").first()
        services.answer(other, accepted=True, now=other.expires_at)
        assert Offer.objects.get(pk=other.pk).status == "timed_out"
        third = Offer.objects.filter(need=need, status="pending").get()
        services.answer(third, accepted=True, now=third.expires_at - datetime.timedelta(seconds=1))
        assert Offer.objects.get(pk=third.pk).status == "accepted"
