import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("xfeed", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="post",
            name="text_key",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddIndex(
            model_name="post",
            index=models.Index(fields=["text_key", "created_at"], name="xfeed_post_text"),
        ),
        migrations.AddField(
            model_name="cursor",
            name="members",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=32), blank=True, default=list, size=None
            ),
        ),
        migrations.AddField(
            model_name="cursor",
            name="created_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="cursor",
            name="interval_s",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
