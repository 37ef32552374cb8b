"""The restore drill (portal/backup.py, `manage.py backup` / `manage.py restore`): a real
production with a rendered proposal and its audit trail is backed up, restored into a fresh
database and an empty media root by a separate process, and the restored installation
verifies — the audit trail's hash chain is intact, the schema is fully migrated, the rows are
all there and every media file's checksum matches the original's. A damaged backup is refused
before anything is written."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from portal.backup import MANIFEST, _media_files, backup_read
from portal.processes import database_url
from reviews.models import AuditEvent, Clip, Proposal
from tests.conftest import REPO

pytestmark = pytest.mark.django_db(transaction=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fresh_database(tmp_path):
    """A ``DATABASE_URL`` naming a database that does not exist yet beside the test database;
    created empty (PostgreSQL) and removed afterwards."""
    settings_dict = dict(connection.settings_dict)
    if settings_dict["ENGINE"].endswith("sqlite3"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    settings_dict["NAME"] = f"{settings_dict['NAME']}_drill"
    target = ["--host", settings_dict["HOST"], "--port", str(settings_dict["PORT"]), "--username", settings_dict["USER"]]
    env = dict(os.environ, PGPASSWORD=settings_dict["PASSWORD"] or "")
    subprocess.run(["dropdb", "--if-exists", *target, settings_dict["NAME"]], env=env, check=True)
    subprocess.run(["createdb", *target, settings_dict["NAME"]], env=env, check=True)
    yield database_url(settings_dict)
    subprocess.run(["dropdb", "--if-exists", "--force", *target, settings_dict["NAME"]], env=env, check=True)


def manage(*arguments: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *arguments], cwd=REPO, env=env, capture_output=True, text=True)


def test_restore_drill(small_proposal, media_root, fresh_database, tmp_path, process_env):
    originals = {relative: sha256(media_root / relative) for relative in _media_files(media_root)}
    assert any(str(relative).startswith(small_proposal.media_dir) for relative in originals)
    events = AuditEvent.objects.count()
    assert events > 0

    call_command("backup", "--out", str(tmp_path / "backup"))
    manifest = backup_read(tmp_path / "backup")
    assert {name: entry["sha256"] for name, entry in manifest["media"]["files"].items()} == \
        {relative.as_posix(): digest for relative, digest in originals.items()}

    restored_media = tmp_path / "restored-media"
    env = process_env | {"DATABASE_URL": fresh_database, "LOUPE_MEDIA_ROOT": str(restored_media)}
    restore = manage("restore", "--from", str(tmp_path / "backup"), env=env)
    assert restore.returncode == 0, restore.stderr
    assert f"ok {small_proposal.production.code}: {events} events, chain intact" in restore.stdout

    assert manage("migrate", "--check", env=env).returncode == 0
    counted = manage("shell", "--no-imports", "-c", "from reviews.models import AuditEvent, Clip, Proposal; "
                     "print(Proposal.objects.count(), Clip.objects.count(), AuditEvent.objects.count())", env=env)
    assert counted.stdout.split() == [str(Proposal.objects.count()), str(Clip.objects.count()), str(events)]
    # Every media file is back, byte for byte.
    assert {relative: sha256(restored_media / relative) for relative in _media_files(restored_media)} == originals


def test_a_damaged_backup_is_refused_before_anything_is_written(production, media_root, tmp_path, process_env):
    (media_root / "clips" / "0").mkdir(parents=True, exist_ok=True)
    (media_root / "clips" / "0" / "thumbnail.jpg").write_bytes(b"\xff\xd8 not really a picture \xff\xd9")
    call_command("backup", "--out", str(tmp_path / "backup"))
    manifest = backup_read(tmp_path / "backup")
    damaged = tmp_path / "backup" / "media" / sorted(manifest["media"]["files"])[0]
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\x00")
    restored_media = tmp_path / "restored-media"
    # The target database is the test database itself (not empty): the damage is found first.
    restore = manage("restore", "--from", str(tmp_path / "backup"), env=process_env | {
        "LOUPE_MEDIA_ROOT": str(restored_media)})
    assert restore.returncode == 1
    assert "The backup is damaged; nothing was restored" in restore.stderr
    assert f"media/{sorted(manifest['media']['files'])[0]}: checksum differs" in restore.stderr
    assert not restored_media.exists()
    assert (tmp_path / "backup" / MANIFEST).is_file()


def test_backup_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "something").write_text("x")
    with pytest.raises(Exception, match="already exists and is not an empty folder"):
        call_command("backup", "--out", str(tmp_path / "used"))
