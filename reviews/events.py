"""Events fanned out to browsers through the channel layer, sent only once the change commits.

Groups: ``production-<id>`` (jobs, new proposals), ``proposal-<id>`` (its status) and
``room-<fix request id>`` (the review room of a fix request's versions: playhead, presence,
laser, annotations, notes) and ``dailies-<playlist id>`` (a dailies session: its presenter,
current item and presence).
"""
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def production_group(production_id: int) -> str:
    return f"production-{production_id}"


def proposal_group(proposal_id: int) -> str:
    return f"proposal-{proposal_id}"


def room_group(fix_request_id: int) -> str:
    return f"room-{fix_request_id}"


def dailies_group(playlist_id: int) -> str:
    """The live dailies session of a playlist (``reviews.consumers.DailiesConsumer``)."""
    return f"dailies-{playlist_id}"


def broadcast(group: str, event: str, data: dict) -> None:
    """Send ``{"event": event, "data": data}`` to ``group`` after the current transaction commits."""
    message = {"type": "relay", "event": event, "data": data}

    def send():
        async_to_sync(get_channel_layer().group_send)(group, message)

    transaction.on_commit(send)
