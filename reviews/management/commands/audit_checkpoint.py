"""``python manage.py audit_checkpoint``: sign every production's audit-trail head that is not
signed yet (run it from cron every few minutes, so that the newest events do not wait for the
next event to be covered by a checkpoint)."""
from django.core.management.base import BaseCommand

from reviews.models import Production
from reviews.services.audit import audit_checkpoint


class Command(BaseCommand):
    help = "Sign each production's audit-trail head that is not yet covered by a checkpoint."

    def handle(self, *args, **options):
        for production in Production.objects.order_by("code"):
            checkpoint = audit_checkpoint(production=production)
            if checkpoint:
                self.stdout.write(f"signed {production.code} at event {checkpoint.event_id} "
                                  f"({checkpoint.event_count} events)")
