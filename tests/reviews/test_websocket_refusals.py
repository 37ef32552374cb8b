"""Refused WebSocket handshakes are recorded like refused pages: not signed in, not a member and
a missing second factor as ``access.denied`` events of the production the socket aimed at; a
foreign Origin (refused before anyone is known) as a warning in the ``reviews.access`` log."""
import logging

import pytest
from reviews.models import AuditEvent

from .helpers import session_cookie, websocket_handshake

pytestmark = pytest.mark.django_db(transaction=True)

SITE = [(b"host", b"localhost:8000"), (b"origin", b"http://localhost:8000")]


def _refusals(production) -> list[tuple[str | None, dict]]:
    return [(event.actor.username if event.actor else None, event.payload)
            for event in AuditEvent.objects.filter(production=production, action="access.denied").order_by("id")]


def test_refused_handshakes_are_in_the_productions_audit_trail(production, people, second_factor_by_role):
    assert websocket_handshake("/ws/productions/TEST/", SITE) == (False, 4401)
    assert websocket_handshake("/ws/productions/TEST/", SITE + [(b"cookie", session_cookie(people["outsider"]))]) == (False, 4403)
    assert websocket_handshake("/ws/productions/TEST/", SITE + [(b"cookie", session_cookie(people["director"]))]) == (False, 4403)
    assert websocket_handshake("/ws/productions/TEST/", SITE + [(b"cookie", session_cookie(people["artist"]))])[0]  # let in
    assert websocket_handshake(f"/ws/review/{2**70}/", SITE + [(b"cookie", session_cookie(people["artist"]))]) == (False, 4403)
    path = {"method": "WEBSOCKET", "path": "/ws/productions/TEST/"}
    assert _refusals(production) == [(None, dict(path, reason="not signed in")),
                                     ("outsider", dict(path, reason="not a member")),
                                     ("director", dict(path, reason="second factor"))]


def test_a_foreign_origin_is_logged(production, people, caplog):
    headers = [(b"host", b"localhost:8000"), (b"origin", b"http://localhost:9999"),
               (b"cookie", session_cookie(people["director"]))]
    with caplog.at_level(logging.WARNING, logger="reviews.access"):
        assert websocket_handshake("/ws/productions/TEST/", headers)[0] is False
    assert "websocket refused: origin 'http://localhost:9999'" in caplog.text
    assert _refusals(production) == []
