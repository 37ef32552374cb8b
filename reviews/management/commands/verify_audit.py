"""``python manage.py verify_audit [--production CODE]``: recompute the hash chain of each
production's audit trail (or one production's) and name every edited, removed or reordered
event. Exit status 0 when every trail is intact, 1 otherwise."""
from django.core.management.base import BaseCommand, CommandError

from reviews.models import Production
from reviews.services.audit import audit_findings


class Command(BaseCommand):
    help = "Verify the hash-chained audit trail; name any edited, removed or reordered event (exit 1)."

    def add_arguments(self, parser):
        parser.add_argument("--production", help="Production code (default: every production).")

    def handle(self, *args, production, **options):
        productions = Production.objects.order_by("code")
        if production:
            productions = productions.filter(code=production)
            if not productions.exists():
                raise CommandError(f"No production {production}.")
        broken = 0
        for each in productions:
            findings = audit_findings(production=each)
            count = each.audit_events.count()
            if not findings:
                self.stdout.write(f"ok {each.code}: {count} events, chain intact")
                continue
            broken += len(findings)
            self.stdout.write(f"BROKEN {each.code}: {len(findings)} problem(s) in {count} events")
            for finding in findings:
                self.stdout.write(f"  event {finding.event_id} ({finding.action}): {finding.problem} — {finding.detail}")
        if broken:
            raise SystemExit(1)
