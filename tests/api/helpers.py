"""Clients that speak to an orchestra's API with a bearer token."""

from stagesub.api.tokens import create_token
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client


def token_for(orchestra, *, write: bool = False, name: str = "planning") -> str:
    with use_orchestra(orchestra):
        return create_token(orchestra.subdomain, name, write=write)[1]


def api_client(orchestra, raw: str):
    return host_client(orchestra, HTTP_AUTHORIZATION=f"Bearer {raw}")
