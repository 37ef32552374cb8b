"""The embedded default (SQLite, no DATABASE_URL) serves parallel requests that read and write —
every media read writes an audit event — without "database is locked" (issue 25: thumbnails
failed with HTTP 500 on parallel loads)."""
import os
import subprocess
import sys

from tests.conftest import REPO

# Eight threads on their own connections, each 25 transactions that read and then write, as a
# media view does (permission check, then its audit event).
SCRIPT = """
import threading, django
django.setup()
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS hits (n INTEGER)")
errors = []
def work():
    from django.db import connection, transaction
    try:
        for _ in range(25):
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*) FROM hits")
                    cursor.execute("INSERT INTO hits VALUES (1)")
    except Exception as error:
        errors.append(repr(error))
    finally:
        connection.close()
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
with connection.cursor() as cursor:
    cursor.execute("SELECT COUNT(*) FROM hits")
    print(cursor.fetchone()[0], cursor.execute("PRAGMA journal_mode").fetchone()[0], errors[:1])
"""


def test_embedded_sqlite_serves_parallel_reads_and_writes(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env=env | {"DJANGO_SETTINGS_MODULE": "portal.settings", "LOUPE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "200 wal []"
