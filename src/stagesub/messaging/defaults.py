"""The default message templates every orchestra starts with, in Swedish and English.

Placeholders are written {{name}}; `rendering.VARIABLES` is the one list of names the sending
code supplies. The rows are seeded; admins edit them on /templates/ and can reset one to these.
"""

from __future__ import annotations

from stagesub.tenancy.seeding import seed_step

DEFAULTS: dict[tuple[str, str], tuple[str, str]] = {
    ("request", "sv"): (
        "Förfrågan om vikariat – {{projectName}}",
        """Hej {{firstName}}!

Vi söker {{quantity}} {{position}} till {{projectName}} med start {{startDate}} (vecka {{weekNumber}}).

Repetitioner: {{rehearsalSchedule}}
Konserter: {{concertInfo}}

Svara senast {{responseDeadline}} via din personliga länk:
{{responseUrl}}

Med vänliga hälsningar
{{orchestraName}}""",
    ),
    ("request", "en"): (
        "Substitute request – {{projectName}}",
        """Hello {{firstName}},

We are looking for {{quantity}} {{position}} for {{projectName}}, starting {{startDate}} (week {{weekNumber}}).

Rehearsals: {{rehearsalSchedule}}
Concerts: {{concertInfo}}

Please answer by {{responseDeadline}} using your personal link:
{{responseUrl}}

Kind regards
{{orchestraName}}""",
    ),
    ("reminder", "sv"): (
        "Påminnelse: förfrågan om vikariat – {{projectName}}",
        """Hej {{firstName}}!

Vi har inte fått något svar på vår förfrågan om {{position}} till {{projectName}}.
Svara senast {{responseDeadline}} via din personliga länk:
{{responseUrl}}

Med vänliga hälsningar
{{orchestraName}}""",
    ),
    ("reminder", "en"): (
        "Reminder: substitute request – {{projectName}}",
        """Hello {{firstName}},

We have not yet had your answer to our request for {{position}} in {{projectName}}.
Please answer by {{responseDeadline}} using your personal link:
{{responseUrl}}

Kind regards
{{orchestraName}}""",
    ),
    ("confirmation", "sv"): (
        "Bekräftelse: {{projectName}}",
        """Hej {{firstName}}!

Tack för att du tackade ja. Du är bokad som {{position}} i {{projectName}}.
Start: {{startDate}} (vecka {{weekNumber}})
Repetitioner: {{rehearsalSchedule}}
Konserter: {{concertInfo}}

{{attachmentNote}}

Med vänliga hälsningar
{{orchestraName}}""",
    ),
    ("confirmation", "en"): (
        "Confirmation: {{projectName}}",
        """Hello {{firstName}},

Thank you for accepting. You are booked as {{position}} in {{projectName}}.
Start: {{startDate}} (week {{weekNumber}})
Rehearsals: {{rehearsalSchedule}}
Concerts: {{concertInfo}}

{{attachmentNote}}

Kind regards
{{orchestraName}}""",
    ),
    ("position_filled", "sv"): (
        "Platsen är tillsatt – {{projectName}}",
        """Hej {{firstName}}!

Tack för ditt intresse. Platsen som {{position}} i {{projectName}} är nu tillsatt, så vi behöver dig inte den här gången.

Med vänliga hälsningar
{{orchestraName}}""",
    ),
    ("position_filled", "en"): (
        "Position filled – {{projectName}}",
        """Hello {{firstName}},

Thank you for your interest. The {{position}} seat in {{projectName}} has now been filled, so we will not need you this time.

Kind regards
{{orchestraName}}""",
    ),
    ("withdrawn", "sv"): (
        "Förfrågan återkallad – {{projectName}}",
        """Hej {{firstName}}!

Vi har återkallat vår förfrågan om {{position}} i {{projectName}}. Du behöver inte svara.

Med vänliga hälsningar
{{orchestraName}}""",
    ),
    ("withdrawn", "en"): (
        "Request withdrawn – {{projectName}}",
        """Hello {{firstName}},

We have withdrawn our request for {{position}} in {{projectName}}. You do not need to answer.

Kind regards
{{orchestraName}}""",
    ),
}


@seed_step("messaging.templates", order=40)
def seed_templates(orchestra) -> None:
    from stagesub.messaging.models import MessageTemplate

    for (kind, language), (subject, body) in DEFAULTS.items():
        MessageTemplate.objects.get_or_create(
            kind=kind, language=language, defaults={"subject": subject, "body": body}
        )
