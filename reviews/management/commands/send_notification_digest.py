"""``python manage.py send_notification_digest``: email everyone whose notifications wait for
their email — people who chose a daily digest, and any an SMTP failure held back — one email a
person (run it once a day from cron, or schedule the Celery task
``reviews.tasks.notification_digest_run`` with Celery beat)."""
from django.core.management.base import BaseCommand

from reviews.services.notifications import notification_digest_send


class Command(BaseCommand):
    help = "Email the notifications waiting for the daily digest, one email a person."

    def handle(self, *args, **options):
        self.stdout.write(f"sent {notification_digest_send()} digest email(s)")
