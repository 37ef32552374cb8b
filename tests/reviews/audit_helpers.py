"""Tampering with the audit trail the way an intruder with database access would: on
PostgreSQL the append-only trigger has to be switched off first (inside the test's
transaction, so it comes back on at rollback)."""
from contextlib import contextmanager

from django.db import connection


@contextmanager
def audit_trigger_disabled():
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # ALTER TABLE waits for no deferred foreign-key checks: run the pending ones now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE reviews_auditevent DISABLE TRIGGER reviews_auditevent_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE reviews_auditevent ENABLE TRIGGER reviews_auditevent_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
