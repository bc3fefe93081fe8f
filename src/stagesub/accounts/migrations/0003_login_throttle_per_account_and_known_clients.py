# Login throttling keyed per normalised account, with known devices and addresses.
# The old LoginAttempt rows (raw usernames, one throttle window deep) are worthless to the new
# keys, so the table is recreated rather than converted.

from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_initial'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.DeleteModel(
            name='LoginAttempt',
        ),
        migrations.CreateModel(
            name='LoginAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(db_index=True)),
                ('account', models.CharField(max_length=254)),
                ('channel', models.CharField(choices=[('unknown', 'unknown client'), ('device', 'known device'), ('address', 'known address')], max_length=10)),
                ('device', models.CharField(blank=True, default='', max_length=32)),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('host', models.CharField(blank=True, default='', max_length=255)),
            ],
            options={
                'indexes': [models.Index(fields=['account', 'channel', 'at'], name='loginattempt_account'), models.Index(fields=['ip', 'channel', 'at'], name='loginattempt_address')],
            },
        ),
        migrations.CreateModel(
            name='KnownAddress',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('account', models.CharField(max_length=254)),
                ('ip', models.GenericIPAddressField()),
                ('last_login_at', models.DateTimeField(db_index=True)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('account', 'ip'), name='knownaddress_account_ip')],
            },
        ),
        migrations.CreateModel(
            name='ThrottleNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('scope', models.CharField(choices=[('account', 'account'), ('address', 'address')], max_length=10)),
                ('key', models.CharField(max_length=254)),
                ('window_start', models.DateTimeField(db_index=True)),
                ('count', models.PositiveIntegerField(default=0)),
                ('audit_event', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, to='tenancy.auditevent')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('scope', 'key', 'window_start'), name='throttlenotice_once_per_window')],
            },
        ),
    ]
