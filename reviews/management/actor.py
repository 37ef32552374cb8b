"""Who a management command acts as. Whoever can run ``manage.py`` on the server already owns
the database, so by default commands act as the service account ``CLI_USERNAME``, made a
supervisor of the production they work on (audited like any membership); ``--user NAME`` acts
as a real person instead, whose roles are then checked as on the web."""
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import transaction

from reviews.models import Production, Role
from reviews.services.productions import membership_add, production_create

CLI_USERNAME = "loupe-cli"


@transaction.atomic
def command_production_and_actor(*, code: str, username: str | None, create: bool) -> tuple[Production, User]:
    """The production ``code`` (created when ``create`` and missing) and the user to act as."""
    production = Production.objects.filter(code=code).first()
    if production is None:
        if not create:
            raise CommandError(f"No production {code!r}.")
        production = production_create(code=code, name=code, actor=None)
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        return production, user
    user, created = User.objects.get_or_create(username=CLI_USERNAME)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    membership_add(production=production, user=user, role=Role.SUPERVISOR, actor=None)
    return production, user
