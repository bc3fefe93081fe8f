from django.urls import path

from stagesub.superadmin import users_views, views

app_name = "superadmin"

urlpatterns = [
    path("", views.orchestra_list, name="orchestras"),
    path("orchestras/new/", views.orchestra_create, name="orchestra_create"),
    path("orchestras/<str:subdomain>/plan/", views.orchestra_plan, name="orchestra_plan"),
    path("orchestras/jobs/<uuid:job_id>/", views.job_detail, name="job"),
    path("orchestras/jobs/<uuid:job_id>/progress/", views.job_progress, name="job_progress"),
    path("users/", users_views.user_list, name="users"),
    path("users/<int:user_id>/action/", users_views.user_action, name="user_action"),
]
