from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from reviews import metrics  # noqa: F401  (connects the job metrics to Celery's task signals)
