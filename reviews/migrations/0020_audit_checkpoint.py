import django.db.models.deletion
from django.db import migrations, models

# Like the audit trail itself (0006), its checkpoints refuse UPDATE and DELETE on PostgreSQL.
CHECKPOINT_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION reviews_auditcheckpoint_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit checkpoints are append-only: % on reviews_auditcheckpoint refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reviews_auditcheckpoint_append_only
    BEFORE UPDATE OR DELETE ON reviews_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION reviews_auditcheckpoint_append_only();
"""
CHECKPOINT_APPEND_ONLY_REVERSE = """
DROP TRIGGER IF EXISTS reviews_auditcheckpoint_append_only ON reviews_auditcheckpoint;
DROP FUNCTION IF EXISTS reviews_auditcheckpoint_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("reviews", "0017_delivery"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_id", models.BigIntegerField()),
                ("event_hash", models.CharField(max_length=64)),
                ("event_count", models.PositiveIntegerField()),
                ("signed_at", models.CharField(help_text="ISO 8601, as signed.", max_length=40)),
                ("key_id", models.CharField(help_text="The signing key: SHA-256 of its public key, 16 hex digits.", max_length=16)),
                ("signature", models.CharField(help_text="Ed25519 signature, base64.", max_length=100)),
                ("production", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="audit_checkpoints", to="reviews.production")),
            ],
            options={"ordering": ["event_id"]},
        ),
        migrations.RunPython(_on_postgresql(CHECKPOINT_APPEND_ONLY), _on_postgresql(CHECKPOINT_APPEND_ONLY_REVERSE)),
    ]
