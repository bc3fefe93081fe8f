from django_tasks import task

from stagesub.superadmin.services import run_job
from stagesub.superadmin.signup import finish
from stagesub.superadmin.signup_models import SignupRequest


@task()
def run_signup_job(signup_id: str) -> None:
    """Provision a confirmed signup's orchestra, then mail its login link (control-side task)."""
    signup = SignupRequest.objects.get(pk=signup_id)
    # run_job claims the job: a task delivered twice runs it, and finishes the signup, once.
    if signup.job_id is not None and run_job(signup.job_id) is not None:
        finish(signup_id)
