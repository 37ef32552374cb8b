"""``python manage.py deliver --production CODE --out DIR [--format prores_4444|prores_422_hq|dnxhr_hqx|exr|dpx]``:
deliver the production's approved versions not yet delivered to editorial.

Writes ``DIR/<CODE>_delivery_<NNN>/``: the media (default ProRes 4444), the OTIO / CMX3600 EDL /
FCP7 XML lists per sequence, ``delivery_notes.txt`` and the ASC MHL manifest (``ascmhl/``),
verified. Prints what was delivered, pulled and held. Exits 0 when there is nothing new to
deliver (saying so), 1 when the delivery fails or is refused (nothing then counts as delivered).
"""
from django.core.management.base import BaseCommand

from reviews.deliverables import DEFAULT_FORMAT, DELIVERY_FORMATS
from reviews.errors import ServiceError
from reviews.management.actor import command_production_and_actor
from reviews.services.deliveries import NothingToDeliver, delivery_create


class Command(BaseCommand):
    help = "Deliver a production's approved versions (media, lists, ASC MHL) into a new folder under DIR."

    def add_arguments(self, parser):
        parser.add_argument("--production", required=True)
        parser.add_argument("--out", required=True, metavar="DIR")
        parser.add_argument("--format", default=DEFAULT_FORMAT, choices=sorted(DELIVERY_FORMATS))

    def handle(self, *args, production, out, format, **options):
        production, actor = command_production_and_actor(code=production, username=None, create=False)
        try:
            delivery = delivery_create(production=production, actor=actor, out_dir=out, delivery_format=format,
                                       progress=lambda done, total: self.stdout.write(f"rendered {done}/{total}"))
        except NothingToDeliver as error:
            self.stdout.write(str(error))
            return
        except ServiceError as error:
            self.stderr.write(f"error {error}")
            raise SystemExit(1) from None
        self.stdout.write(f"delivery {delivery.number:03d} of {production.code} into {delivery.folder} "
                          f"(manifest {delivery.manifest}, verified)")
        self.stdout.write(delivery.notes.rstrip())
