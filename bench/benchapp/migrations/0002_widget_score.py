from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchapp", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="widget", name="score", field=models.IntegerField(default=0)
        ),
        migrations.AddIndex(
            model_name="widget", index=models.Index(fields=["score"], name="benchapp_widget_score")
        ),
    ]
