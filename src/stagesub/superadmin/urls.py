from django.urls import path

from stagesub.superadmin import fleet_views, signup_views, users_views, views

app_name = "superadmin"

urlpatterns = [
    path("", views.orchestra_list, name="orchestras"),
    path("orchestras/new/", views.orchestra_create, name="orchestra_create"),
    path("orchestras/<str:subdomain>/", views.orchestra_detail, name="orchestra"),
    path("orchestras/<str:subdomain>/jobs/", views.orchestra_jobs, name="orchestra_jobs"),
    path("orchestras/<str:subdomain>/edit/", views.orchestra_edit, name="orchestra_edit"),
    path("orchestras/<str:subdomain>/plan/", views.orchestra_plan, name="orchestra_plan"),
    path(
        "orchestras/<str:subdomain>/suspend/",
        views.orchestra_status,
        {"change": "suspend"},
        name="orchestra_suspend",
    ),
    path(
        "orchestras/<str:subdomain>/reactivate/",
        views.orchestra_status,
        {"change": "reactivate"},
        name="orchestra_reactivate",
    ),
    path(
        "orchestras/<str:subdomain>/check/",
        views.orchestra_action,
        {"kind": "check_database"},
        name="orchestra_check",
    ),
    path(
        "orchestras/<str:subdomain>/migrate/",
        views.orchestra_action,
        {"kind": "migrate"},
        name="orchestra_migrate",
    ),
    path(
        "orchestras/<str:subdomain>/test-email/",
        views.orchestra_action,
        {"kind": "test_email"},
        name="orchestra_test_email",
    ),
    path(
        "orchestras/<str:subdomain>/decommission/",
        views.orchestra_action,
        {"kind": "decommission"},
        name="orchestra_decommission",
    ),
    path("orchestras/jobs/<uuid:job_id>/", views.job_detail, name="job"),
    path("orchestras/jobs/<uuid:job_id>/progress/", views.job_progress, name="job_progress"),
    path("users/", users_views.user_list, name="users"),
    path("users/<int:user_id>/action/", users_views.user_action, name="user_action"),
    path("fleet/servers/", fleet_views.servers, name="fleet_servers"),
    path("fleet/incidents/", fleet_views.incidents, name="fleet_incidents"),
    path("fleet/incidents/check/", fleet_views.start_check, name="fleet_check"),
    path("fleet/incidents/<int:incident_id>/", fleet_views.incident_detail, name="fleet_incident"),
    path("fleet/audit/", fleet_views.audit_log, name="fleet_audit"),
    path("fleet/audit.csv", fleet_views.audit_export, name="fleet_audit_csv"),
    path("fleet/jobs/", fleet_views.jobs, name="fleet_jobs"),
    path("fleet/worker/", fleet_views.worker, name="fleet_worker"),
    path("signups/", signup_views.signup_list, name="signups"),
]
