from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("reviews", "0029_learned_models"),
    ]

    operations = [
        migrations.AddField(
            model_name="production",
            name="ocio_config",
            field=models.CharField(
                blank=True, default="", max_length=300,
                help_text="The production's own OpenColorIO config: its file under MEDIA_ROOT "
                          "(services.productions.production_set_ocio_config); blank: the ACES studio config."),
        ),
    ]
