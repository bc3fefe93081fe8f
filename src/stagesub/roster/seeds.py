"""Default instruments and positions for every new orchestra, and the demo roster."""

from __future__ import annotations

import random

from stagesub.orchestra.ids import advance_past, format_readable_id
from stagesub.roster.models import Instrument, Musician, Position, Qualification
from stagesub.tenancy.seeding import demo_step, seed_step

# Display order = list order; positions in hierarchy order (1 = most senior).
DEFAULT_INSTRUMENTS: list[tuple[str, list[str]]] = [
    (
        "Violin",
        [
            "Förste konsertmästare",
            "Andre konsertmästare",
            "Stämledare violin 2",
            "Tutti violin 1",
            "Tutti violin 2",
        ],
    ),
    ("Viola", ["Stämledare", "Alternerande stämledare", "Tutti"]),
    ("Cello", ["Solocellist", "Alternerande stämledare", "Tutti"]),
    ("Kontrabas", ["Stämledare", "Tutti"]),
    ("Flöjt", ["Soloflöjt", "Stämledare flöjt 2", "Piccolaflöjt"]),
    ("Oboe", ["Solooboe", "Stämledare oboe 2", "Engelskt horn"]),
    ("Klarinett", ["Soloklarinett", "Stämledare klarinett 2", "Essklarinett", "Basklarinett"]),
    ("Fagott", ["Solofagott", "Stämledare fagott 2", "Kontrafagott"]),
    ("Valthorn", ["Solovalthorn", "Stämledare valthorn 2", "Valthorn 3", "Valthorn 4"]),
    ("Trumpet", ["Solotrumpet", "Stämledare trumpet 2", "Trumpet 3", "Kornett"]),
    ("Trombon", ["Solotrombon", "Trombon 2", "Bastrombon"]),
    ("Tuba", ["Solotuba"]),
    ("Slagverk", ["Soloslagverk", "Slagverk 2", "Puka"]),
    ("Harpa", ["Soloharpa", "Harpa 2"]),
]


@seed_step("roster.instruments", order=10)
def seed_instruments(orchestra) -> None:
    """14 instruments, 43 positions; ids INST001–014 and POS001–043; counters advanced past them.

    Bulk inserts (a handful of queries, not a hundred), skipping rows an adopted database has.
    """
    existing = set(Instrument.objects.values_list("name", flat=True))
    Instrument.objects.bulk_create(
        Instrument(instrument_id=format_readable_id("INST", order), name=name, display_order=order)
        for order, (name, _positions) in enumerate(DEFAULT_INSTRUMENTS, start=1)
        if name not in existing
    )
    instruments = {i.name: i for i in Instrument.objects.all()}
    existing_positions = set(Position.objects.values_list("instrument__name", "name"))
    new_positions, number = [], 0
    for name, positions in DEFAULT_INSTRUMENTS:
        for level, position_name in enumerate(positions, start=1):
            number += 1
            if (name, position_name) not in existing_positions:
                new_positions.append(
                    Position(
                        position_id=format_readable_id("POS", number),
                        instrument=instruments[name],
                        name=position_name,
                        hierarchy_level=level,
                    )
                )
    Position.objects.bulk_create(new_positions)
    advance_past("INST", len(DEFAULT_INSTRUMENTS))
    advance_past("POS", number)


FIRST_NAMES = [
    "Anna",
    "Eva",
    "Maria",
    "Karin",
    "Sara",
    "Lena",
    "Emma",
    "Kristina",
    "Elin",
    "Ida",
    "Johanna",
    "Linnéa",
    "Maja",
    "Sofia",
    "Hanna",
    "Frida",
    "Klara",
    "Ebba",
    "Agnes",
    "Astrid",
    "Ingrid",
    "Märta",
    "Greta",
    "Elsa",
    "Lovisa",
    "Erik",
    "Lars",
    "Karl",
    "Anders",
    "Johan",
    "Per",
    "Nils",
    "Olof",
    "Gustav",
    "Magnus",
    "Henrik",
    "Fredrik",
    "Mikael",
    "Oskar",
    "Axel",
    "Viktor",
    "Emil",
    "Jonas",
    "Björn",
    "Stefan",
    "Mattias",
    "Linus",
    "Ludvig",
    "Hugo",
    "Elias",
]
LAST_NAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Jönsson",
    "Lindberg",
    "Jakobsson",
    "Magnusson",
    "Lindström",
    "Olofsson",
    "Lindqvist",
    "Lindgren",
    "Berg",
    "Axelsson",
    "Bergström",
    "Lundberg",
    "Lind",
    "Lundgren",
    "Lundqvist",
    "Mattsson",
    "Berglund",
    "Fredriksson",
    "Sandberg",
    "Henriksson",
    "Forsberg",
    "Sjöberg",
    "Wallin",
    "Engström",
    "Eklund",
    "Danielsson",
    "Lundin",
    "Håkansson",
    "Björk",
    "Bergman",
    "Gunnarsson",
    "Holm",
    "Wikström",
    "Samuelsson",
    "Isaksson",
    "Fransson",
    "Bergqvist",
    "Nyström",
    "Holmberg",
    "Arvidsson",
    "Löfgren",
    "Söderberg",
    "Nyberg",
    "Blomqvist",
    "Claesson",
    "Nordström",
    "Mårtensson",
]
# Rough share of freelancers per instrument in a symphony orchestra's substitute pool.
INSTRUMENT_WEIGHTS = {
    "Violin": 34,
    "Viola": 12,
    "Cello": 12,
    "Kontrabas": 8,
    "Flöjt": 5,
    "Oboe": 5,
    "Klarinett": 5,
    "Fagott": 5,
    "Valthorn": 6,
    "Trumpet": 5,
    "Trombon": 4,
    "Tuba": 2,
    "Slagverk": 6,
    "Harpa": 3,
}


def _ascii(text: str) -> str:
    return text.lower().translate(str.maketrans("åäöé", "aaoe"))


@demo_step("roster.musicians", order=10)
def demo_musicians(orchestra, count: int = 150) -> None:
    """About 150 musicians with Swedish names, some inactive, archived or local residents."""
    if Musician.objects.exists():
        return
    rng = random.Random(orchestra.subdomain)  # same demo data every time for one orchestra
    instruments = {
        i.name: list(i.positions.order_by("hierarchy_level")) for i in Instrument.objects.all()
    }
    names = [n for n in INSTRUMENT_WEIGHTS if n in instruments]
    weights = [INSTRUMENT_WEIGHTS[n] for n in names]
    used_emails: set[str] = set()
    musicians, links = [], []
    for number in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{_ascii(first)}.{_ascii(last)}@example.se"
        suffix = 2
        while email in used_emails:
            email = f"{_ascii(first)}.{_ascii(last)}{suffix}@example.se"
            suffix += 1
        used_emails.add(email)
        roll = rng.random()
        status = (
            Musician.Status.ARCHIVED
            if roll < 0.05
            else Musician.Status.INACTIVE
            if roll < 0.12
            else Musician.Status.ACTIVE
        )
        musician = Musician(
            musician_id=format_readable_id("MUS", number),
            first_name=first,
            last_name=last,
            email=email,
            phone=f"+4670{number:07d}" if rng.random() < 0.85 else "",
            preferred_language="en" if rng.random() < 0.1 else "sv",
            local_residence=rng.random() < 0.4,
            status=status,
        )
        musicians.append(musician)
        positions = instruments[rng.choices(names, weights)[0]]
        # Most hold the tutti seats; some also a leading one.
        held = {positions[-1]} if len(positions) > 1 else {positions[0]}
        held.update(rng.sample(positions, k=min(len(positions), rng.choice([0, 1, 1, 2]))))
        links.append(held)
    Musician.objects.bulk_create(musicians)
    saved = {m.musician_id: m for m in Musician.objects.all()}
    Qualification.objects.bulk_create(
        Qualification(musician=saved[m.musician_id], position=p)
        for m, held in zip(musicians, links, strict=True)
        for p in held
    )
    advance_past("MUS", count)
