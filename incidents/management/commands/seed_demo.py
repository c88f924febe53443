import importlib.util

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

REFUSED = (
    "seed_demo creates demo users with a known password and is refused when ALLOW_DEMO_DATA is "
    "off (it is off by default when DEBUG is off, i.e. in production)."
)


class Command(BaseCommand):
    help = (
        "Load demo data (teams, services, the users manager/engineer/finance, incidents at "
        "every stage, and each app's own demo rows). Idempotent: running it again adds nothing."
    )

    def handle(self, *args, **options):
        if not settings.ALLOW_DEMO_DATA:
            raise CommandError(REFUSED)
        # Each app that has a ``demo`` module seeds its own rows, in INSTALLED_APPS order, so
        # the base app never imports the apps that depend on it.
        with transaction.atomic():
            for config in apps.get_app_configs():
                module_name = f"{config.name}.demo"
                if importlib.util.find_spec(module_name) is None:
                    continue
                module = importlib.import_module(module_name)
                for line in module.seed():
                    self.stdout.write(f"{config.label}: {line}")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
