"""Answers by SMS reply per second, through the inbound webhook of `stagesub serve`.

    python bench/sms_answers.py [--quick] [--json OUT] [--projects 10] [--musicians 100]

Run from the repository root. A PostgreSQL server (pgserver) is started in a temporary
directory with one orchestra whose SMS is on: --musicians musicians (each with a phone
number) on an A list, and --projects projects each with one first-come need of 3 seats that
asks them all, so there are projects × musicians open requests. The production server
(bench/serving.py) serves it on 127.0.0.1; --clients threads POST each request's answer as
46elks does (form-encoded id, from, to, message), `JA <code>` (70 %, so every need is
contended) or `NEJ <code>`, with extra words; 10 % of the messages are delivered twice (the
provider's redelivery), the copy at once after the first.

Reported: answers per second, latency, statuses, replies that confirmed a booking, and the
checks: 0 overbookings (accepted offers per need ≤ its seats, in the database), every yes
the server confirmed is accepted in the database, one InboundSms row per provider id, no
answer recorded twice. Target (issue 11): ≥ 150 answers/s. `--via web` sends the same answers
(yes/no, duplicates included) to the answer links instead, for comparison on the same machine.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import offers as env
from bench.serving import Server, percentile

YES_SHARE = 0.7
DUPLICATE_SHARE = 0.1
SEATS = 3
TARGET = 150.0


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def provision(projects_count: int, musicians_count: int):
    """The orchestra, its webhook path and the (phone, code, offer pk) of every open request."""
    from django.conf import settings

    from stagesub.offers import services, tokens
    from stagesub.projects import services as projects
    from stagesub.projects.services import NeedData, ProjectData
    from stagesub.rankings import services as rankings
    from stagesub.roster.models import Position
    from stagesub.sms.models import SmsSettings
    from stagesub.sms.replies import code_of
    from stagesub.tenancy import use_orchestra

    orchestra = env.provision("smsbench", "SMS-orkestern")
    with use_orchestra(orchestra):
        sms = SmsSettings(enabled=True, api_username="bench", sender="+46766861004")
        sms.set_api_password("bench")
        sms.save()
        position = Position.objects.order_by("pk").first()
        musicians = env.create_musicians(position, musicians_count, "S")
        for i, musician in enumerate(musicians):
            musician.phone = f"+4670{i:07d}"
            musician.save(update_fields=["phone"])
        a_list = rankings.create_list(position, "A")
        rankings.add_musicians(a_list, [m.pk for m in musicians])
        answers = []
        for p in range(projects_count):
            project = projects.create_project(
                ProjectData(name=f"Projekt {p}", start_date=datetime.date(2031, 3, 3)),
                max_projects=1000,
            )
            need = projects.create_need(
                project,
                NeedData(
                    position_id=position.pk,
                    quantity=SEATS,
                    strategy="first_come",
                    response_time_hours=48,
                    ranking_list_id=a_list.pk,
                    max_recipients=musicians_count,
                ),
            )
            for offer in services.send(need).created:
                link = f"/r/{tokens.make(orchestra.pk, offer)}/"
                answers.append((offer.musician.phone, code_of(offer), offer.pk, link))
        secret = sms.webhook_secret
    host = f"{orchestra.subdomain}.{settings.BASE_DOMAIN}"
    return orchestra, host, f"/sms/inbound/{secret}/", answers


def deliveries(answers: list) -> list[tuple]:
    """(provider id, phone, text, offer pk, yes, link) in a mixed order, some twice."""
    rng = random.Random(11)
    rng.shuffle(answers)
    out = []
    for n, (phone, code, offer_pk, link) in enumerate(answers):
        yes = rng.random() < YES_SHARE
        word = rng.choice(["JA", "ja", "Ja!"]) if yes else rng.choice(["NEJ", "nej", "Nej"])
        text = f"{word} {code} {rng.choice(['', 'tack', '👍', 'hälsningar'])}".strip()
        item = (f"bench{n:07x}", phone, text, offer_pk, yes, link)
        out.append(item)
        if rng.random() < DUPLICATE_SHARE:
            out.append(item)
    return out


def send_all(port: int, host: str, path: str, items: list, clients: int, web: bool) -> dict:
    """POST every item to the webhook (or, with `web`, its answer to the answer link)."""
    work: queue.SimpleQueue = queue.SimpleQueue()
    for item in items:
        work.put(item)
    statuses: dict[str, int] = {}
    booked: set[int] = set()  # offers whose yes the reply confirmed
    replies = {"booked": 0, "empty": 0, "other": 0}
    times: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        while True:
            try:
                provider_id, phone, text, offer_pk, yes, link = work.get_nowait()
            except queue.Empty:
                break
            body = urllib.parse.urlencode(
                {"answer": "yes" if yes else "no"}
                if web
                else {
                    "direction": "incoming",
                    "id": provider_id,
                    "from": phone,
                    "to": "+46766861004",
                    "message": text,
                }
            )
            started = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    link if web else path,
                    body=body,
                    headers={"Host": host, "Content-Type": "application/x-www-form-urlencoded"},
                )
                response = conn.getresponse()
                reply = response.read().decode()
                status = response.status
                if web and status == 302 and "answered=1" in response.getheader("Location", ""):
                    reply = "booked" if yes else "declined"  # (the counted answer's page)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status, reply = 0, ""
            elapsed = time.perf_counter() - started
            with lock:
                times.append(elapsed)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if "booked" in reply or "bokad" in reply:  # (the musician's language)
                    replies["booked"] += 1
                    booked.add(offer_pk)
                elif not reply:
                    replies["empty"] += 1
                else:
                    replies["other"] += 1
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    times.sort()
    return {
        "deliveries": len(items),
        "seconds": round(seconds, 2),
        "answers_per_second": round(len(times) / seconds, 1),
        "p50_ms": round(percentile(times, 50) * 1000, 1),
        "p95_ms": round(percentile(times, 95) * 1000, 1),
        "statuses": statuses,
        "replies": replies,
        "booked": booked,
    }


def check(orchestra, items: list, booked: set[int]) -> dict:
    from django.db.models import Count, Q

    from stagesub.offers.models import Offer, OfferEvent
    from stagesub.projects.models import Need
    from stagesub.sms.models import InboundSms
    from stagesub.tenancy import use_orchestra

    with use_orchestra(orchestra):
        needs = Need.objects.annotate(accepted=Count("offers", filter=Q(offers__status="accepted")))
        overbooked = sum(1 for n in needs if n.accepted > n.quantity)
        not_accepted = Offer.objects.filter(pk__in=booked).exclude(status="accepted").count()
        twice = (
            OfferEvent.objects.filter(kind__in=["accepted", "declined"])
            .values("offer_id")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .count()
        )
        return {
            "needs": needs.count(),
            "accepted": Offer.objects.filter(status="accepted").count(),
            "overbookings": overbooked,
            "confirmed_but_not_accepted": not_accepted,
            "answers_recorded_twice": twice,
            "inbound_rows": InboundSms.objects.count(),
            "unique_provider_ids": len({item[0] for item in items}),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 projects × 50 musicians")
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--musicians", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--via", choices=["sms", "web"], default="sms", help="web: the same answers by link"
    )
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    projects_count, musicians_count = (3, 50) if args.quick else (args.projects, args.musicians)
    workdir = Path(tempfile.mkdtemp(prefix="stagesub-bench-sms-"))
    started = time.perf_counter()
    try:
        env.start_environment(workdir)
        from django.db import connections

        log(f"provisioning {projects_count} projects × {musicians_count} open requests")
        orchestra, host, path, answers = provision(projects_count, musicians_count)
        items = deliveries(answers)
        connections.close_all()
        with Server(workdir / "server.log", ready_host=host) as server:
            workers = server.worker_count()
            log(f"server: {server.kind}, {workers} worker processes, port {server.port}")
            run = send_all(server.port, host, path, items, args.clients, args.via == "web")
        booked = run.pop("booked")
        checks = check(orchestra, items, booked)
        result = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "via": args.via,
            "server": server.kind,
            "worker_processes": workers,
            "clients": args.clients,
            **run,
            **checks,
            "met": {
                "rate": run["answers_per_second"] >= TARGET,
                "no_overbooking": checks["overbookings"] == 0,
                "exactly_once": checks["answers_recorded_twice"] == 0
                and (args.via == "web" or checks["inbound_rows"] == checks["unique_provider_ids"])
                and checks["confirmed_but_not_accepted"] == 0,
                "no_errors": set(run["statuses"]) <= {"200", "302"},
            },
        }
    finally:
        env.stop_postgres()
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"done in {time.perf_counter() - started:.1f} s")
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
