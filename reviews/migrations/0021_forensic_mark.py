import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("reviews", "0020_audit_checkpoint"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ForensicMark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("payload", models.BigIntegerField(help_text="32-bit, random; what the frames carry.", unique=True)),
                ("channel", models.CharField(choices=[("review_room", "Review room"), ("frame_view", "Frame view")], max_length=20)),
                ("session_key", models.CharField(blank=True, help_text="The browser session of frame views.", max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("clip", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="reviews.clip")),
                ("production", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="forensic_marks", to="reviews.production")),
                ("proposal", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="reviews.proposal")),
                ("viewer", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created_at"]},
        ),
    ]
