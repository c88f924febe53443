import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from incidents.api.throttling import parse_rate
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"


@pytest.fixture
def three_a_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/minute", "anonymous": "2/minute"},
    }


def test_each_token_has_its_own_limit(api_for, engineer, three_a_minute):
    first, second = api_for(engineer), api_for(engineer)
    for _ in range(3):
        assert first.get(INCIDENTS).status_code == 200
    response = first.get(INCIDENTS)
    body = assert_problem(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert 0 < body["retry_after"] <= 60
    # Another token of the same person has its own count.
    assert second.get(INCIDENTS).status_code == 200


def test_requests_without_credentials_are_limited_per_address(anon_api, three_a_minute):
    assert_problem(anon_api.get("/api/schema/"), 401)
    anon_api.get("/api/schema/")
    assert_problem(anon_api.get("/api/schema/"), 429)


def test_refused_requests_count_too(api_for, finance_user, anon_api, three_a_minute):
    """Rate limits are counted before permissions: a caller without credentials, or with a
    token that may not do this, reaches 429 at its limit like everyone else."""
    for _ in range(2):
        assert_problem(anon_api.get(INCIDENTS), 401)
    assert_problem(anon_api.get(INCIDENTS), 429, "throttled")
    finance = api_for(finance_user)  # finance may not read incidents
    for _ in range(3):
        assert_problem(finance.get(INCIDENTS), 403)
    assert_problem(finance.get(INCIDENTS), 429, "throttled")


def test_each_request_is_counted_once(api_for, engineer, three_a_minute):
    api = api_for(engineer)
    for _ in range(3):
        assert api.get(INCIDENTS).status_code == 200
    assert_problem(api.get(INCIDENTS), 429)


def test_rates_are_parsed():
    assert parse_rate("600/minute") == (600, 60)
    assert parse_rate("10/s") == (10, 1)
    assert parse_rate("1000/hour") == (1000, 3600)
    assert parse_rate("5/day") == (5, 86400)


def test_on_redis_the_count_is_one_transaction_with_an_expiry(api_for, engineer):
    """The window's counter is created with its expiry and incremented in one MULTI/EXEC, so a
    process dying between the two steps cannot leave a counter that never expires."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("needs the Redis cache (make test starts one)")
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])

    def transactions() -> int:
        return client.info("commandstats").get("cmdstat_exec", {}).get("calls", 0)

    api = api_for(engineer)
    before = transactions()
    assert api.get(INCIDENTS).status_code == 200
    assert api.get(INCIDENTS).status_code == 200
    assert transactions() - before == 2
    [key] = client.keys(backend.make_and_validate_key("api-throttle:token:*"))
    assert client.get(key) == b"2"
    assert 0 < client.ttl(key) <= 61


def test_a_client_cannot_pick_its_address_with_x_forwarded_for(anon_api, three_a_minute):
    for n in range(2):
        assert_problem(anon_api.get(INCIDENTS, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"), 401)
    assert_problem(anon_api.get(INCIDENTS, HTTP_X_FORWARDED_FOR="10.0.0.99"), 429)
