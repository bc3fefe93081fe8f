from django_tasks import task

from stagesub.superadmin.fleet import check_and_record


@task()
def run_isolation_check(requested_by: str) -> dict:
    """The console's isolation check over every orchestra (control-side: binds none itself)."""
    return check_and_record(requested_by)
