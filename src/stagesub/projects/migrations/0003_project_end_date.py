import datetime

from django.db import migrations, models


def fill_end_dates(apps, schema_editor):
    """Projects were weeks: each ends on the Sunday of its start week."""
    Project = apps.get_model("projects", "Project")
    db = schema_editor.connection.alias
    for project in Project.objects.using(db).only("pk", "start_date").iterator():
        end = project.start_date + datetime.timedelta(days=6 - project.start_date.weekday())
        Project.objects.using(db).filter(pk=project.pk).update(end_date=end)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0002_files_and_calendar"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="end_date",
            field=models.DateField(null=True, verbose_name="end date"),
        ),
        migrations.RunPython(fill_end_dates, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="project",
            name="end_date",
            field=models.DateField(verbose_name="end date"),
        ),
        migrations.AddConstraint(
            model_name="project",
            constraint=models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="project_ends_after_it_starts",
            ),
        ),
        migrations.AddIndex(
            model_name="project",
            index=models.Index(fields=["start_date", "end_date"], name="project_period"),
        ),
    ]
