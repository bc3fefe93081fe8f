from django.urls import path

import stagesub.converters  # noqa: F401  (registers <readable:...>)
from stagesub.projects import views

app_name = "projects"

urlpatterns = [
    path("projects/", views.project_list, name="projects"),
    path("projects/new/", views.project_create, name="project_create"),
    path("calendar/<readable:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("projects/calendar/renew/", views.calendar_renew, name="calendar_renew"),
    path(
        "projects/<readable:project_id>/calendar.ics",
        views.project_calendar,
        name="project_calendar",
    ),
    path("projects/<readable:project_id>/files/new/", views.file_upload, name="file_upload"),
    path(
        "projects/<readable:project_id>/files/<readable:file_id>/", views.file_download, name="file"
    ),
    path(
        "projects/<readable:project_id>/files/<readable:file_id>/action/",
        views.file_action,
        name="file_action",
    ),
    path("projects/<readable:project_id>/", views.project_detail, name="project"),
    path("projects/<readable:project_id>/edit/", views.project_edit, name="project_edit"),
    path("projects/<readable:project_id>/action/", views.project_action, name="project_action"),
    path("projects/<readable:project_id>/needs/new/", views.need_create, name="need_create"),
    path("projects/<readable:project_id>/need-lists/", views.need_lists, name="need_lists"),
    path(
        "projects/<readable:project_id>/needs/<readable:need_id>/",
        views.need_action,
        name="need_action",
    ),
    path(
        "projects/<readable:project_id>/needs/<readable:need_id>/edit/",
        views.need_edit,
        name="need_edit",
    ),
    path("projects/<readable:project_id>/lists/new/", views.plist_create, name="plist_create"),
    path(
        "projects/<readable:project_id>/lists/template/",
        views.apply_template,
        name="apply_template",
    ),
    path(
        "projects/<readable:project_id>/lists/<readable:list_id>/", views.plist_detail, name="plist"
    ),
    path(
        "projects/<readable:project_id>/lists/<readable:list_id>/action/",
        views.plist_action,
        name="plist_action",
    ),
    path(
        "projects/<readable:project_id>/lists/<readable:list_id>/reorder/",
        views.plist_reorder,
        name="plist_reorder",
    ),
]
