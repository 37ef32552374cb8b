"""Review room state shared by every web process: who is present (and in which role), who
presents, and what the presenter shows (playhead frame, version, compare mode, wipe).

With ``REDIS_URL`` set the state lives in Redis — two daphne processes serve one session, and a
reviewer who reconnects, to either, lands on the current state. Every change of the presenter or
of what is shown is one Lua script (atomic in Redis): it applies only while the presenter is the
one the caller names, so two people grabbing control at once leave exactly one presenter. With
the embedded defaults (no Redis, the in-memory channel layer, one process) the same interface is
kept in this process's memory.

Keys (per fix request, whose versions the room shows): ``loupe:room:<id>:state`` (JSON) and
``loupe:room:<id>:presence`` (hash: channel name → JSON ``{user, name, roles, seen}``); both
expire after ``ROOM_TTL_S`` without a change. ``loupe:room:<id>:announce`` is set (with an
expiry) while a connection, in any process, has an announcement of presence pending;
``loupe:room:<id>:sweep`` for ``PRESENCE_RENEW_S`` by the connection that looks for lapsed entries.
"""
import json
import time

from django.conf import settings

ROOM_TTL_S = 24 * 3600
# Presence is announced to the room at most once per this many seconds: every join or leave
# within the window is told by one ``presence`` event, read after the window closes. A room of n
# filling up would otherwise send n full lists to up to n people each (O(n²) messages of O(n)).
PRESENCE_ANNOUNCE_S = 0.2
# Each connection's own web process renews its presence entry every PRESENCE_RENEW_S (whatever
# its browser's timers do in a background tab); an entry not renewed for PRESENCE_TTL_S belongs
# to a process that died without saying goodbye (kill -9, a lost host) and is dropped, and a
# presenter's control passes on, within that time.
PRESENCE_RENEW_S = 1.5
PRESENCE_TTL_S = 5.0

# Apply ARGV[2] (a JSON object) to the state if its presenter is ARGV[1] ("" = nobody, "*" = any);
# with ARGV[4] == "1" only the keys the state lacks. Returns {1, new state} or {0, current state}.
_UPDATE_IF_PRESENTER = """
local raw = redis.call('GET', KEYS[1])
local state = {}
if raw then state = cjson.decode(raw) end
local presenter = state['presenter']
if presenter == nil or presenter == cjson.null then presenter = '' else presenter = tostring(presenter) end
if ARGV[1] ~= '*' and ARGV[1] ~= presenter then return {0, raw or '{}'} end
for k, v in pairs(cjson.decode(ARGV[2])) do
  if ARGV[4] ~= '1' or state[k] == nil then state[k] = v end
end
local out = cjson.encode(state)
redis.call('SET', KEYS[1], out, 'EX', tonumber(ARGV[3]))
return {1, out}
"""


def _holder(presenter) -> str:
    return "" if presenter is None else str(presenter)


class RoomStore:
    """The shared state of one review room. Async; one instance per consumer is cheap."""

    def __init__(self, room_id: int):
        self.room_id = room_id

    # -- what is shown ---------------------------------------------------------------------
    async def state(self) -> dict:
        raise NotImplementedError

    async def update_if_presenter(self, presenter: int | None, changes: dict, *, anyone: bool = False) -> tuple[bool, dict]:
        """Apply ``changes`` if the room's presenter is ``presenter`` (None: nobody presents);
        ``anyone`` applies them whoever presents. Returns (applied, the state after)."""
        raise NotImplementedError

    async def initialise(self, defaults: dict) -> dict:
        """Fill in the keys of ``defaults`` the state lacks (a new room; a concurrent first
        joiner's values are kept); returns the state."""
        raise NotImplementedError

    # -- who is here -----------------------------------------------------------------------
    async def join(self, channel: str, person: dict) -> None:
        raise NotImplementedError

    async def leave(self, channel: str) -> None:
        raise NotImplementedError

    async def touch(self, channel: str) -> None:
        raise NotImplementedError

    async def _entries(self) -> dict[str, dict]:
        raise NotImplementedError

    async def claim_announcement(self) -> bool:
        """True if the caller is to announce presence (nobody has an announcement pending); False
        if one is pending, which will read presence after the caller's change was stored."""
        raise NotImplementedError

    async def release_announcement(self) -> None:
        """Called by the announcer just before it reads presence: a change after this claims anew."""
        raise NotImplementedError

    async def _drop(self, channels: list[str]) -> None:
        raise NotImplementedError

    async def claim_sweep(self) -> bool:
        """True for one caller per ``PRESENCE_RENEW_S`` in the whole room (any process): the one
        to look for lapsed entries, so a room of n costs one sweep, not n, per period."""
        raise NotImplementedError

    async def drop_stale(self) -> bool:
        """Drop the entries not renewed for ``PRESENCE_TTL_S``; True if there were any."""
        now = time.time()
        stale = [channel for channel, entry in (await self._entries()).items() if now - entry["seen"] > PRESENCE_TTL_S]
        if stale:
            await self._drop(stale)
        return bool(stale)

    async def present(self) -> list[dict]:
        """The people present, one entry per person (several tabs count once), in order of
        arrival: ``[{user, name, roles}]``. Entries not renewed for ``PRESENCE_TTL_S`` are dropped."""
        now = time.time()
        entries = await self._entries()
        stale = [channel for channel, entry in entries.items() if now - entry["seen"] > PRESENCE_TTL_S]
        if stale:
            await self._drop(stale)
        people: dict[int, dict] = {}
        for channel, entry in sorted(entries.items(), key=lambda item: item[1]["joined"]):
            if channel not in stale and entry["user"] not in people:
                people[entry["user"]] = {"user": entry["user"], "name": entry["name"], "roles": entry["roles"]}
        return list(people.values())


class RedisRoomStore(RoomStore):
    _clients: dict = {}  # one connection pool per event loop

    def __init__(self, room_id: int):
        super().__init__(room_id)
        self.state_key = f"loupe:room:{room_id}:state"
        self.presence_key = f"loupe:room:{room_id}:presence"
        self.announce_key = f"loupe:room:{room_id}:announce"
        self.sweep_key = f"loupe:room:{room_id}:sweep"

    @property
    def redis(self):
        import asyncio

        import redis.asyncio

        loop = asyncio.get_running_loop()
        client = self._clients.get(id(loop))
        if client is None or client[0] is not loop:
            client = (loop, redis.asyncio.from_url(settings.REDIS_URL, decode_responses=True))
            self._clients[id(loop)] = client
        return client[1]

    async def state(self) -> dict:
        raw = await self.redis.get(self.state_key)
        return json.loads(raw) if raw else {}

    async def update_if_presenter(self, presenter, changes, *, anyone=False):
        return await self._eval("*" if anyone else _holder(presenter), changes, only_missing=False)

    async def initialise(self, defaults):
        return (await self._eval("*", defaults, only_missing=True))[1]

    async def _eval(self, presenter: str, changes: dict, *, only_missing: bool) -> tuple[bool, dict]:
        applied, raw = await self.redis.eval(_UPDATE_IF_PRESENTER, 1, self.state_key, presenter, json.dumps(changes),
                                             ROOM_TTL_S, "1" if only_missing else "0")
        state = json.loads(raw)
        return bool(applied), state if isinstance(state, dict) else {}

    async def join(self, channel, person):
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.presence_key, channel, json.dumps(person | {"joined": now, "seen": now}))
            pipe.expire(self.presence_key, ROOM_TTL_S)
            await pipe.execute()

    async def leave(self, channel):
        await self.redis.hdel(self.presence_key, channel)

    async def touch(self, channel):
        raw = await self.redis.hget(self.presence_key, channel)
        if raw:
            entry = json.loads(raw) | {"seen": time.time()}
            await self.redis.hset(self.presence_key, channel, json.dumps(entry))

    async def _entries(self):
        return {channel: json.loads(raw) for channel, raw in (await self.redis.hgetall(self.presence_key)).items()}

    async def _drop(self, channels):
        await self.redis.hdel(self.presence_key, *channels)

    async def claim_announcement(self):
        # Expires by itself should the announcer's process die before releasing it.
        return bool(await self.redis.set(self.announce_key, "1", nx=True, px=int(PRESENCE_ANNOUNCE_S * 10_000)))

    async def release_announcement(self):
        await self.redis.delete(self.announce_key)

    async def claim_sweep(self):
        return bool(await self.redis.set(self.sweep_key, "1", nx=True, px=int(PRESENCE_RENEW_S * 1000)))


class MemoryRoomStore(RoomStore):
    """The embedded-defaults fallback: one process, so its memory is the whole session."""

    _states: dict[int, dict] = {}
    _presence: dict[int, dict[str, dict]] = {}
    _announcing: set[int] = set()
    _swept_at: dict[int, float] = {}

    async def state(self):
        return dict(self._states.get(self.room_id, {}))

    async def update_if_presenter(self, presenter, changes, *, anyone=False):
        state = self._states.setdefault(self.room_id, {})
        if not anyone and _holder(state.get("presenter")) != _holder(presenter):
            return False, dict(state)
        state.update(json.loads(json.dumps(changes)))
        return True, dict(state)

    async def initialise(self, defaults):
        state = self._states.setdefault(self.room_id, {})
        for key, value in defaults.items():
            state.setdefault(key, value)
        return dict(state)

    async def join(self, channel, person):
        now = time.time()
        self._presence.setdefault(self.room_id, {})[channel] = person | {"joined": now, "seen": now}

    async def leave(self, channel):
        self._presence.get(self.room_id, {}).pop(channel, None)

    async def touch(self, channel):
        entry = self._presence.get(self.room_id, {}).get(channel)
        if entry:
            entry["seen"] = time.time()

    async def _entries(self):
        return {channel: dict(entry) for channel, entry in self._presence.get(self.room_id, {}).items()}

    async def _drop(self, channels):
        for channel in channels:
            self._presence.get(self.room_id, {}).pop(channel, None)

    async def claim_announcement(self):
        if self.room_id in self._announcing:
            return False
        self._announcing.add(self.room_id)
        return True

    async def release_announcement(self):
        self._announcing.discard(self.room_id)

    async def claim_sweep(self):
        now = time.monotonic()
        if now - self._swept_at.get(self.room_id, -PRESENCE_RENEW_S) < PRESENCE_RENEW_S:
            return False
        self._swept_at[self.room_id] = now
        return True


def room_store(room_id: int) -> RoomStore:
    """The store of review room ``room_id`` (a fix request id): Redis when ``REDIS_URL`` is set."""
    return RedisRoomStore(room_id) if settings.REDIS_URL else MemoryRoomStore(room_id)
