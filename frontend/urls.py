from django.urls import path

from . import account, sharing, views

app_name = "frontend"

urlpatterns = [
    path("", views.productions, name="productions"),
    path("productions/<slug:code>/", views.production_detail, name="production"),
    path("productions/<slug:code>/shots/", views.shot_board, name="shot-board"),
    path("productions/<slug:code>/shots/<int:shot_id>/", views.shot_detail, name="shot"),
    path("productions/<slug:code>/jobs/", views.jobs, name="jobs"),
    path("productions/<slug:code>/consent/", views.consent, name="consent"),
    # The producer's reports: one route each (page; ?format=csv or ?format=pdf to export).
    path("productions/<slug:code>/reports/consent/", views.report, {"report": "consent"}, name="report-consent"),
    path("productions/<slug:code>/reports/disclosure/", views.report, {"report": "disclosure"},
         name="report-disclosure"),
    path("productions/<slug:code>/reports/audit/", views.report, {"report": "audit"}, name="report-audit"),
    path("productions/<slug:code>/reports/scorecard/", views.report, {"report": "scorecard"}, name="report-scorecard"),
    path("productions/<slug:code>/reports/deliveries/", views.report, {"report": "deliveries"},
         name="report-deliveries"),
    # Report PDFs, made by a worker: the list (POST asks for one), one export (POST cancels), its file.
    path("productions/<slug:code>/reports/exports/", views.report_exports, name="report-exports"),
    path("productions/<slug:code>/reports/exports/<int:export_id>/", views.report_export, name="report-export"),
    path("productions/<slug:code>/reports/exports/<int:export_id>/download/", views.report_export_download,
         name="report-export-download"),
    path("productions/<slug:code>/playlists/", views.playlists, name="playlists"),
    path("productions/<slug:code>/playlists/<int:playlist_id>/", views.playlist_detail, name="playlist"),
    path("productions/<slug:code>/playlists/<int:playlist_id>/session/", views.dailies_session, name="dailies-session"),
    path("productions/<slug:code>/playlists/<int:playlist_id>/summary/", views.playlist_summary,
         name="playlist-summary"),
    path("media/playlists/<int:playlist_id>/notes/<int:note_id>.jpg", views.playlist_note_thumbnail,
         name="playlist-note-thumbnail"),
    path("review/<int:proposal_id>/", views.review_room, name="review"),
    path("media/clips/<int:clip_id>/thumbnail.jpg", views.clip_thumbnail, name="clip-thumbnail"),
    path("media/clips/<int:clip_id>/proxy.mp4", views.clip_proxy, name="clip-proxy"),
    path("media/clips/<int:clip_id>/frames/<int:frame>.jpg", views.clip_frame, name="clip-frame"),
    path("assignments/", views.assignments, name="assignments"),
    path("media/findings/<int:finding_id>/<str:side>.png", views.finding_crop, name="finding-crop"),
    path("media/proposals/<int:proposal_id>/review/<str:side>/<int:frame>.jpg", views.proposal_review_frame,
         name="proposal-review-frame"),
    path("media/proposals/<int:proposal_id>/frames/<int:frame>.png", views.proposal_rendered_frame,
         name="proposal-rendered-frame"),
    path("account/security/", account.account_security, name="account-security"),
    path("notifications/", sharing.notifications, name="notifications"),
    path("notifications/<int:notification_id>/", sharing.notification_open, name="notification-open"),
    path("notifications/preferences/", sharing.notification_preferences, name="notification-preferences"),
    path("review/<int:proposal_id>/share/", sharing.share_links, name="share-links"),
    path("share/<str:token>/", sharing.share_guest_page, name="share"),
    path("share/<str:token>/notes/", sharing.share_guest_note, name="share-note"),
    path("share/<str:token>/frames/<str:side>/<int:frame>.jpg", sharing.share_guest_frame, name="share-frame"),
]
