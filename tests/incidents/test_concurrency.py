import threading

import pytest
from django.db import connection, connections

from incidents import services
from incidents.models import Incident
from tests.incidents.factories import UserFactory, severity

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locking under real concurrency"
    ),
]

THREADS = 8
PER_THREAD = 5


def test_concurrent_declares_never_repeat_a_reference():
    user = UserFactory()
    sev = severity("SEV-2")
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(PER_THREAD):
                services.incident_declare(title=f"t{n}-{i}", severity=sev, declared_by=user)
        except BaseException as error:  # reported below, the thread must not die silently
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    references = list(Incident.objects.values_list("reference", flat=True))
    assert len(references) == THREADS * PER_THREAD
    assert len(set(references)) == len(references)
    numbers = sorted(int(ref.rsplit("-", 1)[1]) for ref in references)
    assert numbers == list(range(1, THREADS * PER_THREAD + 1))
