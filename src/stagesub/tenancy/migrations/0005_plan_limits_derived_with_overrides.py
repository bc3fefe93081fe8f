# Limits are derived from the plan at use time (tenancy.plans); only overrides are stored.

from django.db import migrations, models

# What every orchestra got copied at creation before plans had limits of their own.
OLD_DEFAULTS = {"max_musicians": 200, "max_projects": 20}


def keep_deliberate_limits(apps, schema_editor):
    """A limit someone set by hand (not the copied default) stays, as an override."""
    Orchestra = apps.get_model("tenancy", "Orchestra")
    for orchestra in Orchestra.objects.all():
        if orchestra.max_musicians != OLD_DEFAULTS["max_musicians"]:
            orchestra.musicians_limit = orchestra.max_musicians
        if orchestra.max_projects != OLD_DEFAULTS["max_projects"]:
            orchestra.projects_limit = orchestra.max_projects
        orchestra.save(update_fields=["musicians_limit", "projects_limit"])


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0004_fleet_operations_maintenance_retired"),
    ]

    operations = [
        migrations.AddField(
            model_name="orchestra",
            name="musicians_limit",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="orchestra",
            name="projects_limit",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="orchestra",
            name="staff_users_limit",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="orchestra",
            name="storage_mb_limit",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(keep_deliberate_limits, migrations.RunPython.noop),
        migrations.RemoveField(model_name="orchestra", name="max_musicians"),
        migrations.RemoveField(model_name="orchestra", name="max_projects"),
    ]
