import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_login_page_works_in_chromium(page, live_server, finance_user, log_in, shot):
    log_in(page, finance_user)
    assert page.get_by_role("heading", name="On-call compensation").is_visible()
    shot(page, "compensation")
