"""Backups of an installation: its database and its media (``MEDIA_ROOT``), with a checksum
manifest — and their restore into a fresh database and an empty media root.

A backup is a folder::

    manifest.json        {"format": 1, "created_at", "database": {"engine", "file", "sha256", "bytes"},
                          "media": {"files": {"<path under MEDIA_ROOT>": {"sha256", "bytes"}}, "bytes"}}
    database.dump        PostgreSQL: pg_dump's custom format (schema, rows, sequences, and the audit
                         trail's append-only trigger), restored by pg_restore
    database.sqlite3     SQLite (embedded mode): a copy made by SQLite's online backup API
    media/...            every file under MEDIA_ROOT

The database is dumped before media is copied: media files are written before the rows that
name them are committed, so the snapshot holds every file the dump refers to (and perhaps a few
newer ones). Names beginning with a dot are left out: they are files being written (a job's
staging folder, a temporary file before its rename, a readiness probe). Originals ingested in
place from the dailies are not in MEDIA_ROOT and not in a backup: they are the studio's storage.

A backup is written to a hidden folder beside ``out`` and renamed when complete, so a folder named
``out`` is always a whole backup.
"""
import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK_BYTES = 1 << 20


class BackupError(Exception):
    """A backup cannot be written or restored; the message says what to do."""


def _copy_hashed(source: Path, target: Path) -> dict:
    """Copy ``source`` to ``target`` (parents made, times kept), hashing the bytes as they pass:
    ``{"sha256": hex, "bytes": int}``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK_BYTES):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    shutil.copystat(source, target)
    return {"sha256": digest.hexdigest(), "bytes": size}


def file_sha256(path: Path) -> str:
    with path.open("rb") as reader:
        return hashlib.file_digest(reader, "sha256").hexdigest()


def _media_files(root: Path) -> list[Path]:
    """Every file under ``root`` (relative paths, sorted), leaving out dot-named files and folders."""
    found = []
    for folder, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(folder, name).relative_to(root) for name in files if not name.startswith(".")]
    return sorted(found)


def _postgres_env(database: dict) -> dict:
    env = dict(os.environ)
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = database["PASSWORD"]
    return env


def _postgres_target(database: dict) -> list[str]:
    target = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if database.get(key):
            target += [flag, str(database[key])]
    return target


def _run(command: list[str], *, env: dict, what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed; install PostgreSQL's client programs "
                          f"(the same major version as the server, or newer).") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()}")


def _is_postgres(database: dict) -> bool:
    return database["ENGINE"].endswith(("postgresql", "postgis"))


def _dump_database(database: dict, folder: Path) -> Path:
    if _is_postgres(database):
        path = folder / "database.dump"
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(path),
              *_postgres_target(database), "--dbname", database["NAME"]],
             env=_postgres_env(database), what="pg_dump")
        return path
    if database["ENGINE"].endswith("sqlite3"):
        path = folder / "database.sqlite3"
        with sqlite3.connect(database["NAME"]) as source, sqlite3.connect(path) as target:
            source.backup(target)
        return path
    raise BackupError(f"Backups support PostgreSQL and SQLite, not {database['ENGINE']}.")


def backup_write(*, out: Path, database: dict, media_root: Path) -> dict:
    """Write a backup of ``database`` (a Django connection's ``settings_dict``) and ``media_root``
    to the folder ``out`` (which must not exist yet, or be empty). Returns the manifest. Raises
    ``BackupError`` (nothing is left at ``out`` then)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not an empty folder; name a new one.")
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        created_at = datetime.datetime.now(datetime.UTC).isoformat()
        dump = _dump_database(database, staging)
        media = {relative.as_posix(): _copy_hashed(media_root / relative, staging / "media" / relative)
                 for relative in _media_files(Path(media_root))}
        manifest = {
            "format": FORMAT,
            "created_at": created_at,
            "database": {"engine": "postgresql" if _is_postgres(database) else "sqlite", "file": dump.name,
                         "sha256": file_sha256(dump), "bytes": dump.stat().st_size},
            "media": {"files": media, "bytes": sum(entry["bytes"] for entry in media.values())},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def backup_read(source: Path) -> dict:
    """The manifest of the backup in ``source``. Raises ``BackupError`` when it is not one."""
    path = Path(source) / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} is not a Loupe backup (no {MANIFEST}).")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup of format {manifest.get('format')}; this Loupe reads {FORMAT}.")
    return manifest


def backup_problems(source: Path) -> list[str]:
    """What in the backup at ``source`` does not match its manifest: missing files and files whose
    checksum differs (empty when the backup is whole)."""
    source = Path(source)
    manifest = backup_read(source)
    expected = {manifest["database"]["file"]: manifest["database"]["sha256"]}
    expected |= {f"media/{name}": entry["sha256"] for name, entry in manifest["media"]["files"].items()}
    problems = []
    for name, sha256 in expected.items():
        path = source / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif file_sha256(path) != sha256:
            problems.append(f"{name}: checksum differs from the manifest")
    return problems


def _database_is_empty(database: dict) -> bool:
    if _is_postgres(database):
        done = subprocess.run(["psql", "--no-psqlrc", "--tuples-only", "--no-align", *_postgres_target(database),
                               "--dbname", database["NAME"], "--command",
                               "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
                              env=_postgres_env(database), capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"Cannot reach the database to restore into: {done.stderr.strip()}")
        return done.stdout.strip() == "0"
    path = Path(database["NAME"])
    if not path.exists():
        return True
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0


def backup_restore(*, source: Path, database: dict, media_root: Path) -> dict:
    """Restore the backup at ``source`` into ``database`` (a connection's ``settings_dict``: a
    fresh, empty database) and ``media_root`` (empty or not yet there), checking every file
    against the manifest before anything is written and every media file again as it is written.
    Returns ``{"database": engine, "media_files": n, "media_bytes": n}``. Raises ``BackupError``
    when the backup is damaged, a target is not empty, or a step fails."""
    source, media_root = Path(source), Path(media_root)
    manifest = backup_read(source)
    problems = backup_problems(source)
    if problems:
        raise BackupError("The backup is damaged; nothing was restored:\n  " + "\n  ".join(problems))
    engine = "postgresql" if _is_postgres(database) else "sqlite"
    if manifest["database"]["engine"] != engine:
        raise BackupError(f"This is a {manifest['database']['engine']} backup; the target database is {engine}.")
    if media_root.exists() and any(media_root.iterdir()):
        raise BackupError(f"{media_root} is not empty; restore into an empty media root.")
    if not _database_is_empty(database):
        raise BackupError(f"The database {database['NAME']} already has tables; restore into a fresh database.")

    dump = source / manifest["database"]["file"]
    if engine == "postgresql":
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              *_postgres_target(database), "--dbname", database["NAME"], str(dump)],
             env=_postgres_env(database), what="pg_restore")
    else:
        Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(dump) as backup, sqlite3.connect(database["NAME"]) as target:
            backup.backup(target)

    media_root.mkdir(parents=True, exist_ok=True)
    for name, entry in manifest["media"]["files"].items():
        written = _copy_hashed(source / "media" / name, media_root / name)
        if written["sha256"] != entry["sha256"]:
            raise BackupError(f"media/{name} changed while it was restored; restore again.")
    return {"database": engine, "media_files": len(manifest["media"]["files"]),
            "media_bytes": manifest["media"]["bytes"]}
