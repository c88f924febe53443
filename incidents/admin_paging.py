"""Admin changelists over tables that grow for years (incidents, timeline, pages, ...)."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most ``COUNT_CAP + 1`` rows, so a changelist's page costs the same with a
    hundred rows or a million: ``SELECT COUNT(*) FROM (SELECT ... LIMIT 10001)``. Past the cap
    the admin shows 10,001 results and pages up to there; filters narrow it down."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: COUNT_CAP + 1].count()


class GrowingTableAdmin:
    """Mixin for the admins of tables that grow without bound: no full count, a capped count,
    and no date hierarchy (its year and month links scan the whole table)."""

    show_full_result_count = False
    paginator = CappedCountPaginator
    date_hierarchy = None
