"""One rule for guild consent, three pages that say it: every combination of classification
(routine / digital alteration) × performers named or not × consent granted, denied or revoked,
checked on the consent report, the AI-use disclosure register and the proposal page against
the rule written out here (PRODUCT.md: a digital alteration is final only when every affected
performer has consented; routine post-production needs no consent; with no performer named a
digital alteration cannot become final and is the supervisor's action)."""
import re

import pytest

from reviews import reports
from reviews.errors import Conflict
from reviews.models import ConsentRequest, Job, Performer, ProposalStatus
from reviews.services.consent import consent_answer, consent_revoke, fix_request_classify
from reviews.worker.likeness import fix_request_screen_likeness
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute
from reviews.services.proposals import proposal_decide, proposal_require_final
from tests.reviews.helpers import signed_in

pytestmark = pytest.mark.django_db

LABELS = {"not_needed": "Not needed: routine post-production",
          "name_performers": "No performer named: the supervisor must name the performers",
          "refused": "Not consented: Ana Lima",
          "granted": "Every affected performer has consented"}


def expected(*, altered: bool, named: bool, consent: str) -> tuple[str, bool]:
    """The rule, independently of the code: (standing, final) of an approved version."""
    if not altered:
        return "not_needed", True
    if not named:
        return "name_performers", False
    return ("granted", True) if consent == "granted" else ("refused", False)


def pages(proposal, director) -> dict[str, tuple[str, str]]:
    """What each page says of ``proposal``: (consent standing, final) on the consent report,
    the disclosure register and the proposal page."""
    production, shot, version = proposal.production, proposal.fix_request.shot.code, proposal.version_label
    consent = reports.consent_report(production)
    col = {name: i for i, name in enumerate(consent.columns)}
    mine = [row for row in consent.rows if row[col["Shot"]] == shot and row[col["Version"]] == version]
    assert len({(row[col["Consent"]], row[col["Final"]]) for row in mine}) == 1, mine
    said = {"consent report": (mine[0][col["Consent"]], mine[0][col["Final"]])}
    register = reports.disclosure_register(production)
    col = {name: i for i, name in enumerate(register.columns)}
    row = next(row for row in register.rows if row[col["Shot"]] == shot and row[col["Version"]] == version)
    said["disclosure register"] = (row[col["Consents"]].split("; ")[0], row[col["Final"]])
    page = signed_in(director).get(f"/review/{proposal.pk}/").content.decode()
    standing = re.search(r'<strong id="consent-standing">([^<]*)</strong>', page).group(1).replace("&#x27;", "'")
    said["proposal page"] = (standing, re.search(r'data-final="(yes|no)"', page).group(1))
    return said


def test_consent_report_register_and_proposal_page_agree(small_proposal, people):
    production, supervisor, director = small_proposal.production, people["supervisor"], people["director"]
    ana = Performer.objects.create(production=production, name="Ana Lima", user=people["performer"])
    # An object removal over the man's face: it replaces a performer, so screening may raise it.
    fix = fix_request_create(production=production, actor=supervisor, shot=small_proposal.fix_request.shot,
                             kind="object_removal", frame_in=0, frame_out=6,
                             mask={"frame": 0, "shape": "rectangle", "points": [[50, 30], [125, 100]]})
    proposal = job_execute(job_id=Job.objects.create(production=production, fix_request=fix, frames_total=6).pk,
                           worker="test")
    proposal_decide(proposal=proposal, director=director, decision="approve")
    checked = []

    def check(*, altered: bool, named: bool, consent: str):
        proposal.refresh_from_db()
        if proposal.status != ProposalStatus.APPROVED:  # a revocation withdrew it: the director approves again
            proposal_decide(proposal=proposal, director=director, decision="approve")
            proposal.refresh_from_db()
        standing, final = expected(altered=altered, named=named, consent=consent)
        want = (LABELS[standing], "yes" if final else "no")
        said = pages(proposal, director)
        assert said == dict.fromkeys(said, want), (altered, named, consent, said)
        if final:
            proposal_require_final(proposal=proposal)
        else:
            with pytest.raises(Conflict):
                proposal_require_final(proposal=proposal)
        if altered and not named:  # the supervisor's action, named with the version and the shot
            assert any("Action for the supervisor: name the performers in v001 of CAR_0010" in row
                       for row in reports.consent_report(production).rows)
        checked.append((altered, named, consent))

    answer = {"denied": lambda c: consent_answer(consent_request=c, actor=people["performer"], grant=False),
              "granted": lambda c: consent_answer(consent_request=c, actor=people["performer"], grant=True,
                                                  scope="This shot, for the film"),
              "revoked": lambda c: consent_revoke(consent_request=c, actor=people["performer"])}
    for consent in ("denied", "granted", "revoked"):  # the order consent answers may take
        fix_request_classify(fix_request=fix, actor=supervisor, alteration="digital_alteration", performers=[ana])
        answer[consent](ConsentRequest.objects.get(fix_request=fix, performer=ana))
        check(altered=True, named=True, consent=consent)
        fix_request_classify(fix_request=fix, actor=supervisor, alteration="routine", performers=[ana],
                             reason="The removal only crosses the car's window behind him.")
        check(altered=False, named=True, consent=consent)
        fix_request_classify(fix_request=fix, actor=supervisor, alteration="routine", performers=[])
        check(altered=False, named=False, consent=consent)
        fix.likeness_screening = {}
        assert fix_request_screen_likeness(fix_request=fix, samples=3)["raised"]  # a face in the region
        check(altered=True, named=False, consent=consent)
    assert len(checked) == 12


#: The issue's classification, written out independently of ``reviews.states``: kinds that stay
#: routine wherever they work (colour, light, a check, a reframe of the whole picture), and kinds
#: that remove or replace what their region covers — routine for things, a digital alteration
#: over a performer.
ROUTINE_WHEREVER = {"color_match", "look_transfer", "relight", "continuity_check", "reframe"}
ALTERED_OVER_A_PERFORMER = {"object_removal", "clean_plate", "background_replace", "frame_rebuild"}


@pytest.mark.parametrize("overlaps", [False, True], ids=["region-clear", "region-over-a-performer"])
def test_classification_by_fix_kind_and_region(overlaps):
    from reviews.models import FixKind
    from reviews.states import classify, screening_may_raise

    assert set(FixKind.values) == ROUTINE_WHEREVER | ALTERED_OVER_A_PERFORMER  # a new kind is classified here
    for kind in FixKind.values:
        altered = overlaps and kind in ALTERED_OVER_A_PERFORMER
        assert classify(kind=kind, overlaps_performer=overlaps) == \
            ("digital_alteration" if altered else "routine"), kind
        assert screening_may_raise(kind) == (kind in ALTERED_OVER_A_PERFORMER), kind
