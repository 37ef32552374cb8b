"""URL routing: pages, the REST API and its schema, admin, sign-in."""
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from frontend import account, sso
from portal import health, metrics

urlpatterns = [
    # Operations: liveness, readiness, Prometheus scrape (docs/operations.md).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("login/", account.SignInView.as_view(), name="login"),
    path("login/code/", account.sign_in_code, name="login-verify"),
    # Signing out of a session signed in through the studio's provider signs out there too.
    path("logout/", sso.sign_out, name="logout"),
    # Single sign-on with the studio's OpenID Provider (LOUPE_OIDC_ISSUER; frontend.sso).
    path("oidc/", include(sso.urlpatterns)),
    # Passkeys: django-otp-webauthn's ceremonies with Loupe's rules (frontend.passkeys).
    path("account/passkeys/", include("frontend.passkeys")),
    path("api/", include("reviews.api.urls")),
    # Signed-in people only (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]); the viewer sends others
    # to sign in, and loads its script from a URL of its own rather than inline (CSP).
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(
        url_name="api-schema", template_name="frontend/api_docs.html")), name="api-docs"),
    # Browsers ask for /favicon.ico on pages that name no icon (images, the browsable API).
    path("favicon.ico", RedirectView.as_view(url=static("frontend/favicon.svg"), permanent=True)),
    path("", include("frontend.urls")),
]
