"""Helpers for the data migrations that register each app's periodic tasks with
django-celery-beat, so managers see, pause and retime them in the admin."""


def register(apps, tasks) -> None:
    """Create the periodic tasks that do not exist yet; never touches ones a manager changed.

    ``tasks``: ``(name, task, description, every_seconds)`` or with a crontab instead of
    seconds: ``(name, task, description, {"minute": "0", "hour": "7", "day_of_week": "1"})``.
    """
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, description, when in tasks:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        values = {"task": task, "description": description, "enabled": True}
        if isinstance(when, dict):
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=when.get("minute", "0"),
                hour=when.get("hour", "*"),
                day_of_week=when.get("day_of_week", "*"),
                day_of_month=when.get("day_of_month", "*"),
                month_of_year=when.get("month_of_year", "*"),
                timezone="UTC",
            )
            values["crontab"] = crontab
        else:
            interval, _ = IntervalSchedule.objects.get_or_create(every=when, period="seconds")
            values["interval"] = interval
        PeriodicTask.objects.create(name=name, **values)


def unregister(apps, names) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()
