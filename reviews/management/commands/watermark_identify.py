"""``python manage.py watermark_identify IMAGE``: read the forensic watermark from a leaked frame
(a screenshot, a photo of a screen, a re-encoded still) and name the viewing session it was sent
to: who, which production, proposal or clip, through what and when. Exit status 0 when a session
is named, 1 when the image carries no readable mark or one the portal never issued."""
from pathlib import Path

import cv2
from django.core.management.base import BaseCommand, CommandError

from engine.ops import watermark
from engine.errors import ParameterError
from reviews.models import ForensicMark


class Command(BaseCommand):
    help = "Name the viewing session a leaked frame was sent to, from its forensic watermark."

    def add_arguments(self, parser):
        parser.add_argument("image", help="the leaked image (JPEG, PNG, …)")

    def handle(self, *args, image, **options):
        picture = cv2.imread(str(Path(image)), cv2.IMREAD_COLOR) if Path(image).is_file() else None
        if picture is None:
            raise CommandError(f"{image} is not an image file OpenCV can read.")
        try:
            found = watermark.detect(cv2.cvtColor(picture, cv2.COLOR_BGR2RGB))
        except ParameterError as error:
            raise CommandError(str(error)) from error
        if found.payload is None:
            self.stdout.write(f"no forensic watermark found (sync {found.confidence:.1f} σ)")
            raise SystemExit(1)
        mark = (ForensicMark.objects.select_related("production", "viewer", "proposal__fix_request__shot", "clip",
                                                "share_guest__link__created_by")
                .filter(payload=found.payload).first())
        if mark is None:
            self.stdout.write(f"payload {found.payload:08x} (sync {found.confidence:.1f} σ) was never issued by this portal")
            raise SystemExit(1)
        if mark.proposal is not None:
            what = f"{mark.proposal.version_label} of {mark.proposal.fix_request.shot.code}"
        else:
            what = f"clip {mark.clip.name}" if mark.clip is not None else "the production"
        viewer = mark.viewer.get_full_name() or mark.viewer.get_username()
        if mark.share_guest is not None:  # no account: the name they gave, and whose link it was
            link = mark.share_guest.link
            viewer = (f"guest {mark.share_guest.name!r} through share link {link.pk} made by "
                      f"{link.created_by.get_username()}")
        self.stdout.write(
            f"payload {mark.payload:08x} (sync {found.confidence:.1f} σ, capture at {found.scale:.2f}× the sent size): "
            f"{viewer} ({mark.viewer.get_username()}), production {mark.production.code}, {what}, "
            f"{mark.get_channel_display().lower()} opened {mark.created_at:%Y-%m-%d %H:%M:%S} UTC")
