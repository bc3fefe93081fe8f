from django_tasks import task

from stagesub.superadmin.services import run_job


@task()
def run_provisioning_job(job_id: str) -> None:
    """Run any console job (provisioning, check, migration, ...; control-side: binds no orchestra)."""
    run_job(job_id)
