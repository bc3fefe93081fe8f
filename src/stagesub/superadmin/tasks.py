from django_tasks import task

from stagesub.superadmin.services import run_job


@task()
def run_provisioning_job(job_id: str) -> None:
    """Provision the orchestra described by the job (control-side task: names no orchestra)."""
    run_job(job_id)
