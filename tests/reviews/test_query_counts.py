"""Query counts do not grow with the production (issue #24): every list page and API list makes
the same number of queries at two sizes of the same production, so one query per row (an N+1,
like the API assignments list's query per fix request for its performers) fails here. Both sizes
fit one page, so each row is rendered at both."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.production_growth import grow
from tests.reviews.helpers import signed_in

pytestmark = pytest.mark.django_db

#: (role that reads it, URL) — every list page and API list of a production.
PAGES = [
    ("supervisor", "/"),
    ("supervisor", "/productions/TEST/"),
    ("supervisor", "/productions/TEST/shots/"),
    ("supervisor", "/productions/TEST/shots/?status=in_review&sort=-due"),
    ("supervisor", "/productions/TEST/jobs/"),
    ("artist", "/assignments/"),
    ("performer", "/productions/TEST/consent/"),
    ("producer", "/productions/TEST/reports/audit/"),
    ("producer", "/productions/TEST/reports/audit/?action=media.view"),
    ("producer", "/productions/TEST/reports/scorecard/"),
    ("producer", "/productions/TEST/reports/consent/"),
    ("producer", "/productions/TEST/reports/disclosure/"),
    ("producer", "/productions/TEST/reports/deliveries/"),
]
API = [
    ("supervisor", "/api/productions/"),
    ("supervisor", "/api/productions/TEST/clips/"),
    ("supervisor", "/api/productions/TEST/shots/"),
    ("supervisor", "/api/productions/TEST/cuts/"),
    ("supervisor", "/api/productions/TEST/fix-requests/"),
    ("supervisor", "/api/productions/TEST/fix-requests/?status=open"),
    ("artist", "/api/productions/TEST/assignments/"),
    ("supervisor", "/api/productions/TEST/jobs/"),
    ("supervisor", "/api/productions/TEST/continuity-findings/"),
    ("supervisor", "/api/productions/TEST/look-models/"),
    ("supervisor", "/api/productions/TEST/learned-models/"),
    ("producer", "/api/productions/TEST/deliveries/"),
]


def query_counts(clients, urls) -> dict[str, int]:
    counts = {}
    for role, url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = clients[role].get(url)
        assert response.status_code == 200, (url, response.status_code)
        counts[url] = len(queries)
    return counts


@pytest.mark.parametrize("urls", [PAGES, API], ids=["pages", "api"])
def test_query_counts_do_not_grow_with_the_production(production, people, shots, urls):
    clients = {role: signed_in(people[role]) for role in {role for role, _ in urls}}
    clip = shots["CUPS"].clip
    grow(production, clip=clip, people=people, shots=3, fix_requests=4, notes=4, events=4)
    small = query_counts(clients, urls)
    added = grow(production, clip=clip, people=people, shots=12, fix_requests=16, notes=16, events=16)
    assert added["fix_requests"] == 16 and production.fix_requests.count() == 20
    large = query_counts(clients, urls)
    grown = {url: (small[url], large[url]) for url in small if large[url] != small[url]}
    assert grown == {}, f"queries that grow with the rows (small, large): {grown}"


def test_the_count_would_see_an_n_plus_one(production, people, shots):
    """The measure itself: serialising fix requests without prefetching their performers costs
    one query per row, which the comparison above would report."""
    from reviews.api.serializers import FixRequestSerializer

    clip = shots["CUPS"].clip
    grow(production, clip=clip, people=people, fix_requests=4)

    def count(n):
        with CaptureQueriesContext(connection) as queries:
            FixRequestSerializer(list(production.fix_requests.all()[:n]), many=True).data  # noqa: B018
        return len(queries)

    assert count(4) > count(2)


def test_long_lists_on_pages_come_a_page_at_a_time_with_their_filters(production, people, shots):
    grow(production, clip=shots["CUPS"].clip, people=people, shots=110, fix_requests=60)
    supervisor = signed_in(people["supervisor"])

    first = supervisor.get("/productions/TEST/").content.decode()
    assert first.count("<tr data-fix-request=") == 50 and 'rel="next" href="?page=2"' in first
    second = supervisor.get("/productions/TEST/?page=2").content.decode()
    assert second.count("<tr data-fix-request=") == 10 and "Fix requests 51–60 of 60" in second
    narrowed = supervisor.get("/productions/TEST/?status=open").content.decode()  # every fifth is open
    assert narrowed.count("<tr data-fix-request=") == 12

    board = supervisor.get("/productions/TEST/shots/?sort=code").content.decode()
    assert board.count("<tr data-shot=") == 100 and 'href="?sort=code&amp;page=2"' in board
    rest = supervisor.get("/productions/TEST/shots/?sort=code&page=2").content.decode()
    assert rest.count("<tr data-shot=") == 12


def test_the_ingests_list_makes_the_same_queries_for_3_and_15_ingests(production, people, shots):
    """The production's ingests (a worker job each, issue #24): ready ones name their clip, failed
    ones their reason — neither costs a query per row."""
    from reviews.models import ClipIngest, IngestState

    clip = shots["CUPS"].clip
    client = signed_in(people["supervisor"])

    def add(n):
        ClipIngest.objects.bulk_create(
            ClipIngest(production=production, name=f"take-{i}.mov", created_by=people["supervisor"],
                       **({"state": IngestState.READY, "clip": clip} if i % 2 else
                          {"state": IngestState.FAILED, "error": f"take-{i}.mov is truncated"}))
            for i in range(n))

    add(3)
    small = query_counts({"supervisor": client}, [("supervisor", "/api/productions/TEST/ingests/")])
    add(12)
    assert production.ingests.count() == 15
    large = query_counts({"supervisor": client}, [("supervisor", "/api/productions/TEST/ingests/")])
    assert small == large
