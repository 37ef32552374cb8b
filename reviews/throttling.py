"""Rate limits per person: writes (API writes, and notes and drawings in review rooms) per
minute, counted in the shared cache so that every web process counts the same person's writes
together (Redis in production, ``settings.CACHES``); and WebSocket messages per second, counted
per person in each web process (no round trip to Redis per playhead move).

Settings: ``LOUPE_WRITE_RATE_PER_MIN`` and ``LOUPE_WS_MESSAGES_PER_S`` (docs/operations.md).
"""
import time
import weakref

from django.conf import settings
from django.core.cache import cache
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

#: Length of a write-counting window (seconds): the rate is "at most N writes a minute".
WRITE_WINDOW_S = 60


def write_wait_s(*, user_id: int) -> int | None:
    """Count one write by user ``user_id`` in the current minute (a fixed window, shared by all
    processes through the cache: ``add`` then atomic ``incr``). Returns None when it is within
    ``LOUPE_WRITE_RATE_PER_MIN``, else the seconds until the next window opens (the write must
    then be refused)."""
    now = time.time()
    window = int(now // WRITE_WINDOW_S)
    key = f"writes:{user_id}:{window}"
    cache.add(key, 0, timeout=WRITE_WINDOW_S + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr: this is the window's first write
        cache.add(key, 1, timeout=WRITE_WINDOW_S + 5)
        count = 1
    if count <= settings.LOUPE_WRITE_RATE_PER_MIN:
        return None
    return max(1, int((window + 1) * WRITE_WINDOW_S - now + 0.999))


def write_refusal(wait_s: int) -> str:
    """The message a person reads when a write was refused by the rate limit."""
    return (f"Too many changes in a minute: at most {settings.LOUPE_WRITE_RATE_PER_MIN} per person "
            f"(LOUPE_WRITE_RATE_PER_MIN). Nothing was saved; try again in {wait_s} s.")


class WriteRateThrottle(BaseThrottle):
    """DRF throttle for the API: every write (POST, PUT, PATCH, DELETE) of a signed-in person
    counts towards ``LOUPE_WRITE_RATE_PER_MIN``; reads are not limited. Refused with 429, a
    ``Retry-After`` header and the message of :func:`write_refusal` (``reviews.api.errors``)."""

    def allow_request(self, request, view) -> bool:
        self.wait_s = None
        if request.method in SAFE_METHODS or not request.user.is_authenticated:
            return True
        self.wait_s = write_wait_s(user_id=request.user.pk)
        return self.wait_s is None

    def wait(self) -> int | None:
        return self.wait_s


class MessageBucket:
    """A token bucket for one person's WebSocket messages in this web process (all their
    connections here draw on it): ``LOUPE_WS_MESSAGES_PER_S`` messages a second on average,
    bursts of up to twice that. In-process, no I/O; get it with :func:`message_bucket_for`."""

    def __init__(self):
        self.tokens = 2.0 * settings.LOUPE_WS_MESSAGES_PER_S
        self.at = time.monotonic()

    def take(self) -> bool:
        """Spend one message; False (the message must be dropped) when the bucket is empty."""
        rate = settings.LOUPE_WS_MESSAGES_PER_S
        now = time.monotonic()
        self.tokens = min(2.0 * rate, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    @staticmethod
    def refusal() -> str:
        return (f"Too many messages: at most {settings.LOUPE_WS_MESSAGES_PER_S} a second per person in review rooms "
                f"(LOUPE_WS_MESSAGES_PER_S); the ones over it were dropped.")


#: Each person's bucket while they have a connection in this process (the connections hold it).
_buckets: "weakref.WeakValueDictionary[int, MessageBucket]" = weakref.WeakValueDictionary()


def message_bucket_for(user_id: int) -> MessageBucket:
    """The message bucket that user ``user_id``'s connections in this process share."""
    bucket = _buckets.get(user_id)
    if bucket is None:
        bucket = _buckets[user_id] = MessageBucket()
    return bucket
