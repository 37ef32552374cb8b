"""Pagination of the API's lists: ``?limit=N&offset=M`` (DRF's LimitOffsetPagination).

A request without ``limit`` gets the whole list, as a plain JSON array; with ``limit`` (at most
``MAX_LIMIT``) it gets ``{"count", "next", "previous", "results"}``.
"""
from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    max_limit = 500
