"""Admin changelists over tables that grow for years (incidents, timeline, pages, ...)."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
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


class NameFilter(admin.SimpleListFilter):
    """Filter a changelist by a name typed into a box (a person's username, a team's or a
    service's name, in any letter case), instead of a link per choice: a list of links grows
    with the organisation (and the query behind it reads every choice), a box costs the same
    with five teams or fifty, fifty engineers or five hundred. Subclass with ``title``,
    ``parameter_name``, ``lookup`` (the ORM path of the name) and ``placeholder``."""

    template = "admin/incidentdesk/name_filter.html"
    lookup = "owner__username"
    placeholder = "username"

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def typed_name(self) -> str:
        """The name typed; NUL characters (which no name holds, and PostgreSQL refuses in a
        query) are dropped."""
        return (self.value() or "").replace("\x00", "").strip()

    def queryset(self, request, queryset):
        name = self.typed_name()
        if not name:
            return queryset
        return queryset.filter(**{f"{self.lookup}__iexact": name})

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


class UsernameFilter(NameFilter):
    """By a person's username: subclass with ``field``, the user relation."""

    field = "owner"

    def __init__(self, *args, **kwargs):
        self.lookup = f"{self.field}__username"
        super().__init__(*args, **kwargs)


class TeamNameFilter(NameFilter):
    """By a team's name; ``lookup`` is the path to it (``team__name`` by default)."""

    title = "team"
    parameter_name = "team"
    lookup = "team__name"
    placeholder = "team name"


class ServiceNameFilter(NameFilter):
    """By the name of one of an incident's affected services (each incident once)."""

    title = "service"
    parameter_name = "service"
    placeholder = "service name"

    def queryset(self, request, queryset):
        name = self.typed_name()
        if not name:
            return queryset
        from incidents.models import Incident

        affected = Incident.services.through.objects.filter(
            incident_id=OuterRef("pk"), service__name__iexact=name
        )
        return queryset.filter(Exists(affected))
