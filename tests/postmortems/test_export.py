import io
import zoneinfo
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from postmortems.export import EXPORT_NEEDS_PUBLISHED, ExportRefused, postmortem_markdown
from tests.postmortems.factories import PostmortemFactory
from tests.postmortems.stories import published_checkout_postmortem

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parent / "fixtures" / "checkout-outage.md"
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def test_published_post_mortem_renders_as_the_fixture_byte_for_byte():
    postmortem, _ = published_checkout_postmortem()
    markdown = postmortem_markdown(postmortem=postmortem, zone=NEW_YORK)
    assert markdown.encode("utf-8") == FIXTURE.read_bytes()


def test_export_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    postmortem, _ = published_checkout_postmortem()
    with django_assert_max_num_queries(6):
        postmortem_markdown(postmortem=postmortem, zone=NEW_YORK)


def test_unpublished_post_mortems_are_refused():
    postmortem = PostmortemFactory()
    with pytest.raises(ExportRefused) as error:
        postmortem_markdown(postmortem=postmortem, zone=NEW_YORK)
    assert error.value.messages == [
        EXPORT_NEEDS_PUBLISHED.format(reference=postmortem.incident.reference, status="scheduled")
    ]


class TestCommand:
    def test_prints_the_markdown(self):
        published_checkout_postmortem()
        out = io.StringIO()
        call_command(
            "postmortem_export", "inc-2026-0001", "--time-zone", "America/New_York", stdout=out
        )
        assert out.getvalue().encode("utf-8") == FIXTURE.read_bytes()

    def test_writes_a_file(self, tmp_path):
        published_checkout_postmortem()
        target = tmp_path / "pm.md"
        call_command(
            "postmortem_export",
            "INC-2026-0001",
            "--time-zone",
            "America/New_York",
            "--output",
            str(target),
            stderr=io.StringIO(),
        )
        assert target.read_bytes() == FIXTURE.read_bytes()

    def test_refusals(self):
        postmortem = PostmortemFactory()
        with pytest.raises(CommandError, match="Only published post-mortems"):
            call_command("postmortem_export", postmortem.incident.reference)
        with pytest.raises(CommandError, match="No post-mortem for INC-1999-0001"):
            call_command("postmortem_export", "INC-1999-0001")
        with pytest.raises(CommandError, match="Unknown time zone"):
            call_command("postmortem_export", postmortem.incident.reference, "--time-zone", "Mars")

    def test_an_output_path_that_cannot_be_written_is_named(self, tmp_path):
        published_checkout_postmortem()
        target = tmp_path / "missing" / "pm.md"
        with pytest.raises(CommandError, match=f"Cannot write {target}: No such file"):
            call_command("postmortem_export", "INC-2026-0001", "--output", str(target))


def test_a_timeline_line_keeps_its_line_breaks():
    from postmortems.export import _timeline_line

    assert _timeline_line("08:56 GMT", "Rolled back:\r\n1. payments-api  v42\n\n2. the CDN") == [
        "- 08:56 GMT — Rolled back:",
        "  1. payments-api v42",
        "  2. the CDN",
    ]
