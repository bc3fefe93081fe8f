"""Offer numbers (REQ...) come from a PostgreSQL sequence, not the IdSequence row.

The sequence starts after the last number the counter row handed out, so no number is reused;
going back writes the sequence's position into the row. SQLite keeps the row (see ids.py).
"""

from django.db import migrations

# Fixed here (not imported from ids.py), so this migration keeps its meaning if ids.py changes.
SEQUENCES = {"REQ": "orchestra_readable_id_req"}


def to_sequences(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    IdSequence = apps.get_model("orchestra", "IdSequence")
    for prefix, name in SEQUENCES.items():
        counter = IdSequence.objects.using(connection.alias).filter(prefix=prefix).first()
        start = (counter.last_number if counter else 0) + 1
        schema_editor.execute(
            f"CREATE SEQUENCE {schema_editor.quote_name(name)} "
            f"AS bigint MINVALUE 1 START WITH {int(start)}"
        )


def to_counters(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    IdSequence = apps.get_model("orchestra", "IdSequence")
    for prefix, name in SEQUENCES.items():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(last_value, start_value - 1) FROM pg_sequences"
                " WHERE schemaname = current_schema() AND sequencename = %s",
                [name],
            )
            last = cursor.fetchone()[0]
        IdSequence.objects.using(connection.alias).update_or_create(
            prefix=prefix, defaults={"last_number": last}
        )
        schema_editor.execute(f"DROP SEQUENCE {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("orchestra", "0003_orchestrasettings"),
    ]

    operations = [migrations.RunPython(to_sequences, to_counters)]
