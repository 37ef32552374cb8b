"""Dailies playlists: an ordered set of versions (proposals) across shots of one production,
built by the post supervisor from a shot board filter, from a list of fix requests, or by
hand; reordered and trimmed. Every change is audited in the transaction that makes it.

Items are numbered ``position`` 0, 1, … without gaps; every change renumbers.
"""
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz, selectors
from reviews.errors import ServiceError
from reviews.models import FixKind, FixRequest, Playlist, PlaylistItem, PlaylistSource, Production, Proposal

from .audit import audit_record

MAX_NAME = 200
#: The largest playlist (a day's dailies are tens of versions; this keeps a session's list and
#: its summary's PDF to a size a person reads).
MAX_ITEMS = 500
#: The shot board filters a playlist can be built from (``selectors.shot_board``'s keywords).
BOARD_FILTERS = ("status", "assignee", "kind", "q")


def newest_versions(fix_requests) -> list[Proposal]:
    """The newest version of each of ``fix_requests`` that has one, in the order given
    (continuity checks have findings, not versions, and are left out)."""
    fix_requests = [fix for fix in fix_requests if fix.kind != FixKind.CONTINUITY_CHECK]
    newest: dict[int, Proposal] = {}
    for proposal in (Proposal.objects.filter(fix_request__in=[fix.pk for fix in fix_requests])
                     .order_by("fix_request_id", "version")):
        newest[proposal.fix_request_id] = proposal
    return [newest[fix.pk] for fix in fix_requests if fix.pk in newest]


def board_versions(production: Production, board_filter: dict) -> list[Proposal]:
    """The newest version of every fix request on the shots the shot board shows for
    ``board_filter`` (keys of ``BOARD_FILTERS``, as in the board's query string), in the board's
    cut order; with ``kind`` or ``assignee``, only the fix requests of that kind or assignee.

    Raises ``ServiceError`` for an unknown filter key."""
    unknown = sorted(set(board_filter) - set(BOARD_FILTERS))
    if unknown:
        raise ServiceError(f"Unknown shot board filter {', '.join(unknown)}; use {', '.join(BOARD_FILTERS)}.")
    values = {key: str(board_filter.get(key) or "").strip() for key in BOARD_FILTERS}
    shots = list(selectors.shot_board(production, status=values["status"], assignee=values["assignee"],
                                      kind=values["kind"], search=values["q"], sort="cut"))
    fixes = FixRequest.objects.filter(production=production, shot__in=shots).select_related("assignee")
    if values["kind"]:
        fixes = fixes.filter(kind=values["kind"])
    if values["assignee"]:
        fixes = fixes.filter(assignee__username=values["assignee"])
    order = {shot.pk: index for index, shot in enumerate(shots)}
    return newest_versions(sorted(fixes, key=lambda fix: (order[fix.shot_id], fix.created_at, fix.pk)))


def _check_name(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ServiceError("Name the playlist (e.g. “Dailies 12 March”).")
    if len(name) > MAX_NAME:
        raise ServiceError(f"A playlist's name is limited to {MAX_NAME} characters.")
    return name


def _check_proposals(production: Production, proposals: list[Proposal]) -> None:
    if any(proposal.production_id != production.pk for proposal in proposals):
        raise ServiceError("A version is not one of this production's.")


def _renumber(playlist: Playlist) -> list[PlaylistItem]:
    items = list(playlist.items.order_by("position", "id"))
    for position, item in enumerate(items):
        if item.position != position:
            item.position = position
            item.save(update_fields=["position"])
    return items


def playlist_create(*, production: Production, actor: User, name: str, proposals: list[Proposal] | None = None,
                    fix_requests: list[FixRequest] | None = None, board_filter: dict | None = None) -> Playlist:
    """A new playlist named ``name``, filled from one of: ``board_filter`` (the shot board's
    filters, ``board_versions``), ``fix_requests`` (the newest version of each,
    ``newest_versions``) or ``proposals`` (by hand, in that order; may be empty and filled
    later). Audited as ``playlist.create`` with the versions it holds.

    Raises ``NotAllowed`` unless ``actor`` may manage playlists (post supervisors);
    ``ServiceError`` for an empty name, more than one source, versions or fix requests of
    another production, a board filter or fix request list with no version to review, or more
    than ``MAX_ITEMS`` versions."""
    authz.require(actor, production, authz.MANAGE_PLAYLIST)
    name = _check_name(name)
    given = [source for source, value in ((PlaylistSource.BOARD, board_filter), (PlaylistSource.FIX_REQUESTS,
             fix_requests), (PlaylistSource.HAND, proposals)) if value is not None]
    if len(given) > 1:
        raise ServiceError("Build a playlist from one of a shot board filter, fix requests or versions, not several.")
    source = given[0] if given else PlaylistSource.HAND
    source_filter: dict = {}
    if source == PlaylistSource.BOARD:
        proposals = board_versions(production, board_filter)
        source_filter = {key: value for key, value in board_filter.items() if value}
        if not proposals:
            raise ServiceError("No shot the board shows with these filters has a version to review.")
    elif source == PlaylistSource.FIX_REQUESTS:
        if any(fix.production_id != production.pk for fix in fix_requests):
            raise ServiceError("A fix request is not one of this production's.")
        proposals = newest_versions(fix_requests)
        source_filter = {"fix_requests": [fix.pk for fix in fix_requests]}
        if not proposals:
            raise ServiceError("None of these fix requests has a version to review yet.")
    proposals = list(dict.fromkeys(proposals or []))
    _check_proposals(production, proposals)
    if len(proposals) > MAX_ITEMS:
        raise ServiceError(f"A playlist holds at most {MAX_ITEMS} versions.")
    with transaction.atomic():
        playlist = Playlist.objects.create(production=production, name=name, source=source,
                                           source_filter=source_filter, created_by=actor)
        PlaylistItem.objects.bulk_create([
            PlaylistItem(production=production, playlist=playlist, proposal=proposal, position=position,
                         added_by=actor) for position, proposal in enumerate(proposals)])
        audit_record(production=production, actor=actor, action="playlist.create", target=playlist,
                     payload={"name": name, "source": source, "filter": source_filter,
                              "proposals": [proposal.pk for proposal in proposals]})
    return playlist


def playlist_add(*, playlist: Playlist, actor: User, proposals: list[Proposal]) -> list[PlaylistItem]:
    """Append ``proposals`` to the end of ``playlist`` (those already in it stay where they are).
    Audited as ``playlist.add``. Returns the playlist's items in order.

    Raises ``NotAllowed`` unless ``actor`` may manage playlists; ``ServiceError`` for no
    versions, a version of another production, or more than ``MAX_ITEMS`` in all."""
    production = playlist.production
    authz.require(actor, production, authz.MANAGE_PLAYLIST)
    if not proposals:
        raise ServiceError("Name at least one version to add.")
    _check_proposals(production, proposals)
    with transaction.atomic():
        Playlist.objects.select_for_update().get(pk=playlist.pk)
        items = _renumber(playlist)
        present = {item.proposal_id for item in items}
        added = [proposal for proposal in dict.fromkeys(proposals) if proposal.pk not in present]
        if len(items) + len(added) > MAX_ITEMS:
            raise ServiceError(f"A playlist holds at most {MAX_ITEMS} versions.")
        PlaylistItem.objects.bulk_create([
            PlaylistItem(production=production, playlist=playlist, proposal=proposal, position=len(items) + index,
                         added_by=actor) for index, proposal in enumerate(added)])
        audit_record(production=production, actor=actor, action="playlist.add", target=playlist,
                     payload={"proposals": [proposal.pk for proposal in added]})
    return list(playlist.items.order_by("position"))


def playlist_item_remove(*, item: PlaylistItem, actor: User) -> None:
    """Take ``item`` out of its playlist (the version itself, its notes and decisions stay);
    the items after it move up. Audited as ``playlist.remove``.

    Raises ``NotAllowed`` unless ``actor`` may manage playlists."""
    playlist = item.playlist
    authz.require(actor, playlist.production, authz.MANAGE_PLAYLIST)
    with transaction.atomic():
        Playlist.objects.select_for_update().get(pk=playlist.pk)
        item.delete()
        _renumber(playlist)
        audit_record(production=playlist.production, actor=actor, action="playlist.remove", target=playlist,
                     payload={"item": item.pk, "proposal": item.proposal_id})


def playlist_reorder(*, playlist: Playlist, actor: User, item_ids: list[int]) -> list[PlaylistItem]:
    """Put ``playlist``'s items in the order ``item_ids`` gives (every item id of the playlist,
    once each). Audited as ``playlist.reorder``. Returns the items in their new order.

    Raises ``NotAllowed`` unless ``actor`` may manage playlists; ``ServiceError`` unless
    ``item_ids`` names each item exactly once (someone changed the playlist meanwhile: reload)."""
    authz.require(actor, playlist.production, authz.MANAGE_PLAYLIST)
    if not isinstance(item_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in item_ids):
        raise ServiceError("Give the order as a list of the playlist's item ids.")
    with transaction.atomic():
        Playlist.objects.select_for_update().get(pk=playlist.pk)
        items = {item.pk: item for item in playlist.items.all()}
        if sorted(item_ids) != sorted(items) or len(set(item_ids)) != len(item_ids):
            raise ServiceError("Name every item of the playlist once, in the new order (the playlist has "
                               f"{len(items)} items; reload it if someone changed it meanwhile).")
        for position, pk in enumerate(item_ids):
            if items[pk].position != position:
                items[pk].position = position
                items[pk].save(update_fields=["position"])
        audit_record(production=playlist.production, actor=actor, action="playlist.reorder", target=playlist,
                     payload={"items": item_ids})
    return [items[pk] for pk in item_ids]

