from django.urls import path

from . import views

app_name = "frontend"

urlpatterns = [
    path("", views.productions, name="productions"),
    path("productions/<slug:code>/", views.production_detail, name="production"),
    path("productions/<slug:code>/shots/", views.shot_board, name="shot-board"),
    path("productions/<slug:code>/jobs/", views.jobs, name="jobs"),
    path("productions/<slug:code>/consent/", views.consent, name="consent"),
    # The producer's reports: one route each (page; ?format=csv or ?format=pdf to export).
    path("productions/<slug:code>/reports/consent/", views.report, {"report": "consent"}, name="report-consent"),
    path("productions/<slug:code>/reports/disclosure/", views.report, {"report": "disclosure"},
         name="report-disclosure"),
    path("productions/<slug:code>/reports/audit/", views.report, {"report": "audit"}, name="report-audit"),
    path("productions/<slug:code>/reports/scorecard/", views.report, {"report": "scorecard"}, name="report-scorecard"),
    path("review/<int:proposal_id>/", views.review_room, name="review"),
    path("media/clips/<int:clip_id>/thumbnail.jpg", views.clip_thumbnail, name="clip-thumbnail"),
]
