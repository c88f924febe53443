from rest_framework import pagination

from incidents.selectors import moment_from


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination: stable while rows are added (new incidents, timeline events), and
    each page is one indexed range query however deep. The ordering is the view's
    ``ordering`` unless ``?ordering=`` names one of its ``ordering_fields``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def _get_position_from_instance(self, instance, ordering):
        # Plain rows carry their moments as ``<name>_us`` (``selectors.EpochMicroseconds``).
        field_name = ordering[0].lstrip("-")
        if isinstance(instance, dict) and field_name not in instance:
            return str(moment_from(instance[f"{field_name}_us"]))
        return super()._get_position_from_instance(instance, ordering)
