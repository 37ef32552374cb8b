from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("reviews", "0013_fix_request_mask_keyframes"),
    ]

    operations = [
        migrations.AddField(
            model_name="clip",
            name="input_colorspace",
            field=models.CharField(
                blank=True, max_length=128,
                help_text="OCIO colour space the engine reads the clip in: the supervisor's choice at ingest, else "
                          "what the file names, else Rec.709 (engine.media.colour.input_colorspace); blank for clips "
                          "ingested before it was recorded (read from the file then)."),
        ),
    ]
