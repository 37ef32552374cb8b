"""``python manage.py verify_audit [--production CODE]``: recompute the hash chain of each
production's audit trail (or one production's), check it against the signed checkpoints in the
database and in the external copy (``LOUPE_AUDIT_CHECKPOINT_LOG``), and name every edited,
removed, reordered, truncated or re-chained event and every forged or deleted checkpoint.
Exit status 0 when every trail is intact, 1 otherwise."""
from django.core.management.base import BaseCommand, CommandError

from reviews import checkpoints
from reviews.models import Production
from reviews.services.audit import audit_findings_against, audit_orphan_checkpoints


class Command(BaseCommand):
    help = ("Verify the audit trail's hash chain and signed checkpoints; name any edited, removed, reordered, "
            "truncated or re-chained event and any forged or deleted checkpoint (exit 1).")

    def add_arguments(self, parser):
        parser.add_argument("--production", help="Production code (default: every production).")
        parser.add_argument("--without-external-copy", action="store_true",
                            help="check the chain and the database's checkpoints only (after a restore: the "
                                 "external copy also holds what was recorded after the backup)")

    def handle(self, *args, production, without_external_copy, **options):
        productions = Production.objects.order_by("code")
        if production:
            productions = productions.filter(code=production)
            if not productions.exists():
                raise CommandError(f"No production {production}.")
        try:
            external = None if without_external_copy else checkpoints.external_records()
        except OSError as error:
            raise CommandError(f"Cannot read the external copy of the checkpoints: {error}") from error
        if without_external_copy:
            self.stdout.write("note: the external copy of the checkpoints is not read (--without-external-copy)")
        elif external is None:
            self.stdout.write(f"note: no external copy of the checkpoints at {checkpoints.external_path()}")
        broken = 0
        for each in productions:
            try:
                findings = audit_findings_against(production=each, external=external)
            except checkpoints.CheckpointKeyError as error:
                raise CommandError(str(error)) from error
            count = each.audit_events.count()
            signed = each.audit_checkpoints.count()
            if not findings:
                self.stdout.write(f"ok {each.code}: {count} events, chain intact, "
                                  f"{signed} signed checkpoint{'' if signed == 1 else 's'}")
                continue
            broken += len(findings)
            self.stdout.write(f"BROKEN {each.code}: {len(findings)} problem(s) in {count} events")
            for finding in findings:
                action = f" ({finding.action})" if finding.action else ""
                self.stdout.write(f"  event {finding.event_id}{action}: {finding.problem} — {finding.detail}")
        if not production and external:
            for claim in audit_orphan_checkpoints(external=external):
                broken += 1
                self.stdout.write(f"BROKEN: the external copy has checkpoints of production {claim.production_id} "
                                  f"(created {claim.production_created_at}) up to event {claim.event_id}, "
                                  "and no such production is in the database")
        if broken:
            raise SystemExit(1)
