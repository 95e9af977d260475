"""A simulator over HTTPS for Microsoft's own clients (issue 3 §5; spec §9.1).

``simulator`` is one session-wide HTTPS simulator loaded with :func:`tests.simulator.support.sample_seed`
(including a 5,000-member group, ``BIG_GROUP``); ``start_simulator(seed)`` starts another one for a test
that needs its own directory. The trustme CA is trusted through ``REQUESTS_CA_BUNDLE`` (requests: MSAL, sync
azure-identity) and ``SSL_CERT_FILE`` (httpx, aiohttp) for every test here; no client's verification is
disabled or patched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from entra_simulator.server import TlsFiles
from tests.simulator.support import (
    ClientCertificate,
    SimulatorHandle,
    make_client_certificate,
    new_simulator,
    running,
    sample_seed,
)

BIG_GROUP_MEMBERS = 5000


@pytest.fixture(scope="session")
def client_certificate() -> ClientCertificate:
    return make_client_certificate()


@pytest.fixture(scope="session")
def start_simulator(tls_files: TlsFiles) -> Iterator[Callable[[dict[str, Any]], SimulatorHandle]]:
    with ExitStack() as stack:

        def start(seed: dict[str, Any]) -> SimulatorHandle:
            return stack.enter_context(running(new_simulator(seed), tls_files))

        yield start


@pytest.fixture(scope="session")
def simulator(
    start_simulator: Callable[[dict[str, Any]], SimulatorHandle], client_certificate: ClientCertificate
) -> SimulatorHandle:
    return start_simulator(sample_seed(client_certificate, big_group_members=BIG_GROUP_MEMBERS))


@pytest.fixture(autouse=True)
def trust_simulator_ca(monkeypatch: pytest.MonkeyPatch, tls_files: TlsFiles) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca_bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_bundle))
