"""A database server that hangs costs a request its connect timeout, not the kernel's minutes."""

from __future__ import annotations

import socket
import time

from stagesub.tenancy.binding import directory
from stagesub.tenancy.models import Orchestra
from tests.conftest import host_client


def test_a_hanging_database_server_costs_a_request_the_connect_timeout(goteborg, settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections (the kernel does) and never answers
    port = listener.getsockname()[1]
    settings.DB_CONNECT_TIMEOUT = 1
    try:
        server = goteborg.server
        server.pk = None
        server.name = "hanging"
        server.set_url(f"postgresql://nobody:secret@127.0.0.1:{port}/postgres")
        server.save()
        Orchestra.objects.filter(pk=goteborg.pk).update(server=server)
        directory.forget()
        started = time.monotonic()
        response = host_client(goteborg).get("/r/1-" + "0" * 32 + "/")
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert response.status_code == 503
    assert elapsed < 10  # bounded by the connect timeout, not the kernel's minutes
