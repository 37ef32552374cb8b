from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reviews', '0026_notifications_share_links'),
    ]

    operations = [
        migrations.AddField(
            model_name='membership',
            name='granted_by_issuer',
            field=models.CharField(blank=True, default='', help_text='The OpenID Provider (its issuer) whose roles claim gave this role at sign-in, and whose next sign-in takes it away when the claim no longer names it; empty for a role given in Loupe.', max_length=255),
        ),
    ]
