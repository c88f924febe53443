import threading

import pytest
from django.db import connection, connections

from postmortems import services
from postmortems.models import Postmortem
from tests.postmortems.factories import ResolvedIncidentFactory

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locking under real concurrency"
    ),
]

THREADS = 6


def test_concurrent_scheduling_creates_exactly_one_post_mortem():
    incident = ResolvedIncidentFactory()  # SEV-2: requires a post-mortem
    barrier = threading.Barrier(THREADS)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            postmortem = services.postmortem_schedule(incident=incident)
            results.append(postmortem.pk)
        except BaseException as error:  # reported below, the thread must not die silently
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Postmortem.objects.filter(incident=incident).count() == 1
    assert len(set(results)) == 1
    assert incident.timeline.filter(kind="postmortem").count() == 1
