"""Looking up a project or need from a URL for a view: readable ids in any case, else 404."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from stagesub.projects.models import Need, Project


def project_or_404(project_id: str) -> Project:
    return get_object_or_404(Project, project_id=project_id.upper())


def need_or_404(project: Project, need_id: str) -> Need:
    return get_object_or_404(Need, project=project, need_id=need_id.upper())
