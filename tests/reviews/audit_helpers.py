"""Tampering with the audit trail the way an intruder with database access would: on
PostgreSQL the append-only triggers (of the events and of their signed checkpoints) have to be
switched off first (inside the test's transaction, so they come back on at rollback)."""
import io
from contextlib import contextmanager

from django.core.management import call_command
from django.db import connection

APPEND_ONLY = ("reviews_auditevent", "reviews_auditcheckpoint")


@contextmanager
def audit_trigger_disabled():
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # ALTER TABLE waits for no deferred foreign-key checks: run the pending ones now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in APPEND_ONLY:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in APPEND_ONLY:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def verify(*args) -> tuple[int, str]:
    """Run ``manage.py verify_audit`` with ``args``: its exit status and what it printed."""
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except SystemExit as exit:
        return exit.code, out.getvalue()
    return 0, out.getvalue()
