"""URL routing: pages, the REST API and its schema, admin, sign-in."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from frontend import account
from portal import health, metrics

urlpatterns = [
    # Operations: liveness, readiness, Prometheus scrape (docs/operations.md).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("login/", account.SignInView.as_view(), name="login"),
    path("login/code/", account.sign_in_code, name="login-verify"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("reviews.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("frontend.urls")),
]
