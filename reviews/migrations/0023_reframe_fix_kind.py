# The reframe (punch-in) fix kind, issue #26.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("reviews", "0021_forensic_mark"),
    ]

    operations = [
        migrations.AlterField(
            model_name="fixrequest",
            name="kind",
            field=models.CharField(choices=[("color_match", "Shot match"), ("look_transfer", "Look transfer"), ("relight", "Lighting harmonisation"), ("object_removal", "Object removal"), ("clean_plate", "Clean plate"), ("background_replace", "Background replacement"), ("frame_rebuild", "Rebuilt frames"), ("continuity_check", "Continuity check"), ("reframe", "Reframe (punch-in)")], max_length=32),
        ),
    ]
