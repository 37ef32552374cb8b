from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("", views.ApiIndex.as_view(), name="index"),
    path("productions/", views.ProductionList.as_view(), name="productions"),
    path("account/token/", views.AccountToken.as_view(), name="account-token"),
    path("productions/<slug:code>/security/", views.ProductionSecurity.as_view(), name="production-security"),
    path("productions/<slug:code>/clips/", views.ClipList.as_view(), name="clips"),
    path("productions/<slug:code>/clips/<int:pk>/", views.ClipDetail.as_view(), name="clip"),
    path("productions/<slug:code>/clips/upload/", views.ClipUpload.as_view(), name="clip-upload"),
    path("productions/<slug:code>/cuts/", views.CutList.as_view(), name="cuts"),
    path("productions/<slug:code>/deliveries/", views.DeliveryList.as_view(), name="deliveries"),
    path("productions/<slug:code>/shots/", views.ShotList.as_view(), name="shots"),
    path("productions/<slug:code>/fix-requests/", views.FixRequestList.as_view(), name="fix-requests"),
    path("productions/<slug:code>/assignments/", views.Assignments.as_view(), name="assignments"),
    path("productions/<slug:code>/fix-requests/<int:pk>/jobs/", views.FixRequestJobs.as_view(), name="fix-request-jobs"),
    path("productions/<slug:code>/fix-requests/<int:pk>/classification/", views.FixRequestClassification.as_view(),
         name="fix-request-classification"),
    path("productions/<slug:code>/continuity-checks/", views.ContinuityChecks.as_view(), name="continuity-checks"),
    path("productions/<slug:code>/continuity-findings/", views.ContinuityFindingList.as_view(),
         name="continuity-findings"),
    path("productions/<slug:code>/continuity-findings/<int:pk>/fix-request/", views.ContinuityFindingFix.as_view(),
         name="continuity-finding-fix"),
    path("productions/<slug:code>/jobs/", views.JobList.as_view(), name="jobs"),
    path("productions/<slug:code>/look-models/", views.LookModelList.as_view(), name="look-models"),
    path("productions/<slug:code>/jobs/<int:pk>/", views.JobDetail.as_view(), name="job"),
    path("productions/<slug:code>/jobs/<int:pk>/cancel/", views.JobCancel.as_view(), name="job-cancel"),
    path("productions/<slug:code>/jobs/<int:pk>/retry/", views.JobRetry.as_view(), name="job-retry"),
    path("productions/<slug:code>/proposals/<int:pk>/", views.ProposalDetail.as_view(), name="proposal"),
    path("productions/<slug:code>/proposals/<int:pk>/decisions/", views.ProposalDecisions.as_view(),
         name="proposal-decisions"),
    path("productions/<slug:code>/playlists/", views.PlaylistList.as_view(), name="playlists"),
    path("productions/<slug:code>/playlists/<int:pk>/", views.PlaylistDetail.as_view(), name="playlist"),
    path("productions/<slug:code>/playlists/<int:pk>/items/", views.PlaylistItems.as_view(), name="playlist-items"),
    path("productions/<slug:code>/playlists/<int:pk>/items/<int:item>/", views.PlaylistItemDetail.as_view(),
         name="playlist-item"),
    path("productions/<slug:code>/playlists/<int:pk>/order/", views.PlaylistOrder.as_view(), name="playlist-order"),
    path("productions/<slug:code>/playlists/<int:pk>/summary/", views.PlaylistSummary.as_view(),
         name="playlist-summary"),
]
