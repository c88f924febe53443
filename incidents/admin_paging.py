"""Admin changelists over tables that grow for years (incidents, timeline, pages, ...)."""

from django.contrib import admin
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


class UsernameFilter(admin.SimpleListFilter):
    """Filter a changelist by a person's username typed into a box, instead of a link per
    person: a list of links grows with the organisation (and the query behind it scans the
    table for every distinct person), a box costs the same with fifty engineers or five
    hundred. Subclass with ``title``, ``parameter_name`` and ``field`` (the user relation)."""

    template = "admin/incidentdesk/username_filter.html"
    field = "owner"

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def queryset(self, request, queryset):
        username = (self.value() or "").strip()
        if not username:
            return queryset
        return queryset.filter(**{f"{self.field}__username__iexact": username})

    def choices(self, changelist):
        kept = [
            (name, value)
            for name, values in changelist.params.items()
            if name != self.parameter_name
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "value": self.value() or "",
            "kept": kept,
            "clear": changelist.get_query_string(remove=[self.parameter_name]),
        }
