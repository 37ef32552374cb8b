"""Pagination of the API's lists: every list is paginated, whether or not the request asks.

- ``Pagination`` (most lists): ``?limit=N&offset=M`` (DRF's LimitOffsetPagination), ``DEFAULT_LIMIT``
  rows when ``limit`` is not given, at most ``MAX_LIMIT``; the answer is
  ``{"count", "next", "previous", "results"}``.
- ``NewestFirstCursor`` (lists that are long and grow while they are read: fix requests, jobs):
  ``?limit=N`` and the opaque ``cursor`` of the ``next`` / ``previous`` links (DRF's
  CursorPagination on the id, newest first), so a row filed while someone pages through is never
  shown twice or skipped; the answer is ``{"next", "previous", "results"}`` — no count, which
  would cost a scan of the whole list on every page.
"""
from rest_framework.pagination import CursorPagination, LimitOffsetPagination

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class Pagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT


class NewestFirstCursor(CursorPagination):
    ordering = "-id"
    page_size = DEFAULT_LIMIT
    page_size_query_param = "limit"
    max_page_size = MAX_LIMIT
