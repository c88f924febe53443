from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination: stable while rows are added (new incidents, timeline events), and
    each page is one indexed range query however deep. The ordering is the view's
    ``ordering`` unless ``?ordering=`` names one of its ``ordering_fields``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
