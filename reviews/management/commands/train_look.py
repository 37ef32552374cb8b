"""``python manage.py train_look --production CODE --name NAME --pair SOURCE_SHOT GRADED_SHOT ...``:
train the production's next look model from pairs of its shots (camera original, graded)."""
from django.core.management.base import BaseCommand, CommandError

from reviews.errors import ServiceError
from reviews.management.actor import command_production_and_actor
from reviews.worker.looks import look_model_train


class Command(BaseCommand):
    help = "Train a production's look model (a 3D LUT, .cube) from pairs of its own shots."

    def add_arguments(self, parser):
        parser.add_argument("--production", required=True)
        parser.add_argument("--name", required=True, help="e.g. 'Day exterior grade'")
        parser.add_argument("--pair", nargs=2, action="append", required=True, metavar=("SOURCE_SHOT", "GRADED_SHOT"),
                            help="shot codes: the camera original and its graded version (same frames)")
        parser.add_argument("--frames", type=int, help="frames sampled per pair (default: the engine's)")
        parser.add_argument("--user", help="Act as this user (a supervisor or artist) instead of loupe-cli.")

    def handle(self, *args, production, name, pair, frames, user, **options):
        production, actor = command_production_and_actor(code=production, username=user, create=False)
        shots = {shot.code: shot for shot in production.shots.select_related("clip")}
        missing = sorted({code for codes in pair for code in codes} - set(shots))
        if missing:
            raise CommandError(f"No shot(s) {', '.join(missing)} in {production.code}.")
        try:
            look_model = look_model_train(
                production=production, actor=actor, name=name,
                pairs=[(shots[source], shots[graded]) for source, graded in pair],
                parameters={"frames_per_pair": frames} if frames else {},
            )
        except ServiceError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"ok look model v{look_model.version:03d} {look_model.name!r} → {look_model.cube_path} "
                          f"{look_model.measurements}")
