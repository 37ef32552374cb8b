from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("reviews", "0007_review_room"),
    ]

    operations = [
        migrations.AddField(
            model_name="production",
            name="require_mfa",
            field=models.BooleanField(
                default=False,
                help_text="Members see this production only when signed in with a second factor (TOTP).",
            ),
        ),
    ]
