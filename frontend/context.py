"""Template context for every page: the signed-in person's unread notifications (the nav's bell)."""
from reviews.services.notifications import unread_count


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notifications_unread": unread_count(user)}
