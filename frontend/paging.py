"""Pages of long lists on the site's pages: every list a production can grow (fix requests, shots,
clips, assignments, jobs) is shown ``per_page`` rows at a time, with the query's filters kept in
the page links, so a page costs the same at 20 shots or 2,000 (issue #24)."""
from django.core.paginator import Paginator


def page_of(request, rows, *, per_page: int, parameter: str = "page") -> dict:
    """One page of ``rows`` (a queryset, ordered) for ``request``: ``{"rows", "number", "pages",
    "total", "first", "last", "parameter", "query"}`` — ``query`` is the request's other query
    parameters, URL-encoded, for links to other pages. A ``parameter`` that is not a number or out
    of range gives the nearest page."""
    page = Paginator(rows, per_page).get_page(request.GET.get(parameter, "1"))
    others = request.GET.copy()
    others.pop(parameter, None)
    return {"rows": page.object_list, "number": page.number, "pages": page.paginator.num_pages,
            "total": page.paginator.count, "first": page.start_index(), "last": page.end_index(),
            "parameter": parameter, "query": others.urlencode()}
