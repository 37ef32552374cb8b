"""Loupe settings, read from the environment (12-factor, django-environ).

With nothing set, Loupe runs on embedded defaults on one machine: SQLite under ``var/``, the
in-memory channel layer, and Celery on kombu's filesystem transport (no broker server). With
``DATABASE_URL`` and ``REDIS_URL`` set it uses PostgreSQL, the Redis channel layer and the Redis
broker — the way it runs in production and in CI. ``docs/operations.md`` lists every variable.
"""
import sys
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DATA_DIR = Path(env.str("LOUPE_DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Real footage used by the demo, tests and benchmarks; never copied into the project.
LOUPE_FOOTAGE = Path(env.str("LOUPE_FOOTAGE", default=str(BASE_DIR.parent / "shared" / "footage")))

EMBEDDED_SECRET_KEY = "loupe-insecure-embedded-default-do-not-deploy"
SECRET_KEY = env.str("SECRET_KEY", default=EMBEDDED_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.apps.LoupeAdminConfig",  # django.contrib.admin, second factor required
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here (/api/docs/), not from a CDN
    "django_filters",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp_webauthn",  # passkeys (frontend.passkeys)
    "axes",
    "reviews",
    "frontend",
]
# Daphne's app installs Twisted's reactor as it loads (about 35 MiB in every process): only
# `manage.py runserver` needs it, to serve WebSockets in development. Web processes run uvicorn
# (portal.processes), workers no server at all.
if sys.argv[1:2] == ["runserver"]:
    INSTALLED_APPS.insert(0, "daphne")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy (django-csp): CONTENT_SECURITY_POLICY below.
    "csp.middleware.CSPMiddleware",
    # 400 for a NUL character in a query parameter, before any view filters by it.
    "portal.request_limits.refuse_nul_in_query",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): signed in with a second factor (TOTP) in this session.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Login throttling: refuses sign-in after too many failures (django-axes; keep it last).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context.notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'loupe.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file-backed test database, so a Celery worker process started by the tests sees it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-loupe.sqlite3")}
    # The web process and the worker write concurrently, and every media read writes its audit
    # event: WAL lets reads go on beside a write, IMMEDIATE takes the write lock when a transaction
    # begins (so it waits out the busy timeout instead of failing as "database is locked").
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer and Celery broker --------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group message is published once and each web process hands it to
            # its own connections' queues. The list-based RedisChannelLayer made every connection
            # of a 200-person review room take its copy through a lock and a task per message,
            # ~0.1 ms each, one after another (bench/review.py, playhead fan-out). What pub/sub
            # gives up — messages kept while a process is away — no live event here needs: a
            # reconnecting browser is sent the room's state afresh.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # redis-py 8 times socket reads out after 5 s by default; reads get longer.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    # A message a worker took but never acknowledged (the worker died) is delivered again after
    # this long. Safe to keep short: a job that is still running elsewhere holds a lease (below).
    # Workers sweep for such messages every restore interval (kombu's default throttle would
    # make that ten times rarer).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("LOUPE_BROKER_VISIBILITY_TIMEOUT_S", default=300),
        "unacked_restore_interval": env.int("LOUPE_BROKER_RESTORE_INTERVAL_S", default=10),
        "unacked_restore_throttle": 1,
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    BROKER_DIR = DATA_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
# The cache holds the rate limits' counters: in Redis, shared by every web process, or in this
# process's memory under the embedded defaults.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "loupe:cache"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# True when web processes and workers share the channel layer, so a worker's group_send reaches
# browsers. With the in-memory layer the web process reads job progress from the database.
CHANNEL_LAYER_IS_SHARED = bool(REDIS_URL)

# Engine jobs go to "gpu", everything else (ingest, proxies, reports) to "default".
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "reviews.tasks.job_run": {"queue": "gpu"},
    "reviews.tasks.look_model_train_run": {"queue": "gpu"},
    "reviews.tasks.learned_model_train_run": {"queue": "gpu"},
    "reviews.tasks.clip_proxy_run": {"queue": "default"},
    "reviews.tasks.clip_ingest_run": {"queue": "default"},
    "reviews.tasks.fix_request_screen_run": {"queue": "gpu"},
    "reviews.tasks.delivery_run": {"queue": "default"},
    "reviews.tasks.report_export_run": {"queue": "default"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A running job renews its lease (Job.heartbeat_at) about every second; a delivery that finds
# the job running with a lease younger than this waits and tries again, an older one takes over.
LOUPE_JOB_LEASE_S = env.int("LOUPE_JOB_LEASE_S", default=30)

# --- Media ----------------------------------------------------------------------------------
# Derived media (thumbnails, review frames, proposal frames). Originals stay where they were
# ingested from and are never written to. Served only through permission-checked views.
MEDIA_ROOT = Path(env.str("LOUPE_MEDIA_ROOT", default=str(DATA_DIR / "media")))
# Media files are served only by permission-checked, audited views; the file itself is streamed
# by Django ("django"), or by the web server in front: "x-accel-redirect" (nginx, from the
# internal location LOUPE_MEDIA_ACCEL_PREFIX) or "x-sendfile" (Apache mod_xsendfile, lighttpd).
LOUPE_MEDIA_SERVE = env.str("LOUPE_MEDIA_SERVE", default="django")
if LOUPE_MEDIA_SERVE not in ("django", "x-accel-redirect", "x-sendfile"):
    raise ImproperlyConfigured(f"LOUPE_MEDIA_SERVE is django, x-accel-redirect or x-sendfile, not {LOUPE_MEDIA_SERVE!r}")
LOUPE_MEDIA_ACCEL_PREFIX = env.str("LOUPE_MEDIA_ACCEL_PREFIX", default="/protected-media/")
# Review frames are JPEGs no wider than this (pixels), for streaming to browsers.
LOUPE_REVIEW_WIDTH = env.int("LOUPE_REVIEW_WIDTH", default=960)
LOUPE_REVIEW_JPEG_QUALITY = env.int("LOUPE_REVIEW_JPEG_QUALITY", default=90)
# The OCIO displays and views the worker renders review frames through (a short list: each costs
# one display transform and one JPEG per side per frame); reviewers pick one in the room, the
# first is a new room's (docs/adr/0016-review-display-and-view.md). JSON: [{"name", "display",
# "view"?}], names as the production's OCIO config spells them; no "view": the config's default
# view of the display for the clip's colour space (its viewing rules).
LOUPE_REVIEW_VIEWS = env.json("LOUPE_REVIEW_VIEWS", default=[
    {"name": "Rec.709", "display": "Rec.1886 Rec.709 - Display"},
    {"name": "sRGB", "display": "sRGB - Display"},
    {"name": "Display P3", "display": "Display P3 - Display"},
])
if (not isinstance(LOUPE_REVIEW_VIEWS, list) or not LOUPE_REVIEW_VIEWS
        or not all(isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("display"), str)
                   for v in LOUPE_REVIEW_VIEWS)
        or len({v["name"] for v in LOUPE_REVIEW_VIEWS}) != len(LOUPE_REVIEW_VIEWS)):
    raise ImproperlyConfigured('LOUPE_REVIEW_VIEWS is a JSON list of {"name", "display", "view"?} with distinct names')
# The invisible forensic watermark (engine.ops.watermark) in every review frame sent, carrying the
# viewing session's payload (reviews.models.ForensicMark; `manage.py watermark_identify IMAGE`).
LOUPE_FORENSIC_WATERMARK = env.bool("LOUPE_FORENSIC_WATERMARK", default=True)
# Make a browser review proxy (H.264 at review width, frame for frame) of every clip ingested,
# on the "default" queue. Off where proxies come from elsewhere (and in tests that do not need one).
LOUPE_REVIEW_PROXIES = env.bool("LOUPE_REVIEW_PROXIES", default=True)
# The API ingests files on the server only below these folders (the dailies mounts; comma-separated).
LOUPE_INGEST_ROOTS = env.list("LOUPE_INGEST_ROOTS", default=[str(LOUPE_FOOTAGE)])
# Media uploaded through the browser or API is stored as an original under
# MEDIA_ROOT/originals/<production>/; larger uploads are refused (bytes; default 4 GiB).
LOUPE_UPLOAD_MAX_BYTES = env.int("LOUPE_UPLOAD_MAX_BYTES", default=4 * 1024**3)
# Editorial files (EDL, OTIO, XML) are small; larger uploads are refused (bytes).
LOUPE_CUT_UPLOAD_MAX_BYTES = env.int("LOUPE_CUT_UPLOAD_MAX_BYTES", default=20 * 1024**2)
# Any other request body (JSON, forms) larger than this is refused (bytes): by the web process
# from its Content-Length before the body is read (portal.request_limits), and by Django.
LOUPE_REQUEST_MAX_BYTES = env.int("LOUPE_REQUEST_MAX_BYTES", default=8 * 1024**2)
DATA_UPLOAD_MAX_MEMORY_SIZE = LOUPE_REQUEST_MAX_BYTES
# An upload is streamed to a temporary file on disk (chunk by chunk) once it passes this size,
# never held whole in memory (bytes; Django's default, named here because uploads are large).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "django.core.files.uploadhandler.TemporaryFileUploadHandler"]
# Form fields in one request (Django answers more with 400).
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("LOUPE_REQUEST_MAX_FIELDS", default=1000)
# Size limits on what people draw and import: points in one mask outline, events in one
# editorial cut, and pixels in one ingested frame (width × height; 8192×4320 by default).
LOUPE_MASK_MAX_POINTS = env.int("LOUPE_MASK_MAX_POINTS", default=2000)
LOUPE_CUT_MAX_EVENTS = env.int("LOUPE_CUT_MAX_EVENTS", default=10_000)
LOUPE_FRAME_MAX_PIXELS = env.int("LOUPE_FRAME_MAX_PIXELS", default=8192 * 4320)

# Delivery (reviews.services.deliveries): frames of handles each side of a delivered shot, and
# the turnover convention naming deliverables ({shot}, {fix}: the fix kind, {version}).
LOUPE_DELIVERY_HANDLES = env.int("LOUPE_DELIVERY_HANDLES", default=8)
LOUPE_DELIVERY_NAME = env.str("LOUPE_DELIVERY_NAME", default="{shot}_{fix}_v{version:03d}")
# Where deliveries started from the portal are written (one folder each); the command takes --out.
LOUPE_DELIVERY_ROOT = Path(env.str("LOUPE_DELIVERY_ROOT", default=str(DATA_DIR / "deliveries")))
# Content credentials (C2PA) on deliverables: the production's signing certificate chain and its
# private key (PEM, EC P-256 / ES256), and the CA(s) they are checked against when read back.
# Unset: deliverables carry none, and the delivery notes say so.
LOUPE_C2PA_SIGNING_CERT = env.str("LOUPE_C2PA_SIGNING_CERT", default="")
LOUPE_C2PA_SIGNING_KEY = env.str("LOUPE_C2PA_SIGNING_KEY", default="")
LOUPE_C2PA_TRUST_ANCHORS = env.str("LOUPE_C2PA_TRUST_ANCHORS", default="")
# Named in content credentials as the software that made the edit.
LOUPE_VERSION = "0.1.0"

# Signed checkpoints of the audit trail (reviews.checkpoints): an Ed25519 signature over each
# production's chain head every LOUPE_AUDIT_CHECKPOINT_EVERY events or LOUPE_AUDIT_CHECKPOINT_MINUTES
# minutes, by a key kept outside the database (generated at this path on first use when absent),
# copied to an append-only file outside the database. LOUPE_AUDIT_TRUSTED_KEYS: public keys (PEM
# files) of retired signing keys, so their checkpoints still verify after a rotation.
LOUPE_AUDIT_SIGNING_KEY = Path(env.str("LOUPE_AUDIT_SIGNING_KEY", default=str(DATA_DIR / "audit-signing-key.pem")))
LOUPE_AUDIT_TRUSTED_KEYS = env.list("LOUPE_AUDIT_TRUSTED_KEYS", default=[])
LOUPE_AUDIT_CHECKPOINT_LOG = Path(env.str("LOUPE_AUDIT_CHECKPOINT_LOG", default=str(DATA_DIR / "audit-checkpoints.jsonl")))
LOUPE_AUDIT_CHECKPOINT_EVERY = env.int("LOUPE_AUDIT_CHECKPOINT_EVERY", default=100)
LOUPE_AUDIT_CHECKPOINT_MINUTES = env.int("LOUPE_AUDIT_CHECKPOINT_MINUTES", default=10)

# --- HTTPS, cookies and headers -------------------------------------------------------------
# LOUPE_HTTPS=true is how Loupe runs in production (behind TLS): every setting below then
# defaults to its strict value, and `manage.py check --deploy` is clean. Each can still be set
# on its own (same name as Django's setting). Off by default for the embedded, one-machine mode.
LOUPE_HTTPS = env.bool("LOUPE_HTTPS", default=False)
if LOUPE_HTTPS and (SECRET_KEY == EMBEDDED_SECRET_KEY or DEBUG):
    raise ImproperlyConfigured("With LOUPE_HTTPS set, set SECRET_KEY (50+ random characters) and leave DEBUG off.")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=LOUPE_HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=LOUPE_HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=LOUPE_HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if LOUPE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=LOUPE_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=LOUPE_HTTPS)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if env.bool("LOUPE_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Whatever the mode: no framing, no MIME sniffing, no referrer sent to other sites, cookies
# out of reach of scripts (the pages read the CSRF token from the form, not the cookie).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy on every response (django-csp): scripts, styles, fonts and
# connections only from this site — no inline scripts, no inline style attributes, no eval —
# images also as data: URIs (job previews) and blob: URLs; no plugins, no framing, forms posted
# only here. WebSockets to this site are covered by 'self' (CSP Level 3). LOUPE_CSP_REPORT_URI
# adds a report-uri for violations.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
if env.str("LOUPE_CSP_REPORT_URI", default=""):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [env.str("LOUPE_CSP_REPORT_URI")]
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("LOUPE_SESSION_AGE_S", default=12 * 3600)

# --- Auth, API ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "frontend:productions"
LOGOUT_REDIRECT_URL = "login"

# django-axes first: it refuses credentials from a locked-out address/user before Django checks them.
# The last signs people in with the studio's OpenID Provider (below; it answers nothing while off).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "frontend.sso.StudioOIDCBackend",
]
# Login throttling (django-axes): after LOUPE_LOGIN_FAILURE_LIMIT failed sign-ins for one user
# name from one address, that pair is refused for LOUPE_LOGIN_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("LOUPE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOUPE_LOGIN_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "frontend/locked_out.html"
# The client's address is REMOTE_ADDR: behind a reverse proxy, run uvicorn with --proxy-headers
# so that it comes from X-Forwarded-For (docs/operations.md).

# TOTP (RFC 6238) devices: the issuer name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env.str("LOUPE_OTP_ISSUER", default="Loupe")
# Email (notices to a person when their sign-in factors change): an EMAIL_URL such as
# smtp+tls://user:password@mail.example.com:587; by default written to the console (the log).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("LOUPE_EMAIL_FROM", default="Loupe <loupe@localhost>")
# Notifications (reviews.services.notifications): emails link to pages under LOUPE_SITE_URL.
LOUPE_SITE_URL = env.str("LOUPE_SITE_URL", default="http://127.0.0.1:8000")
# Share links for external reviewers (reviews.services.share_links): the longest a link may
# live, and wrong passwords allowed per link and client address in LOUPE_SHARE_PASSWORD_WINDOW_MIN
# minutes before the next tries are refused (429) until the window ends.
LOUPE_SHARE_LINK_MAX_DAYS = env.int("LOUPE_SHARE_LINK_MAX_DAYS", default=30)
LOUPE_SHARE_PASSWORD_FAILURES = env.int("LOUPE_SHARE_PASSWORD_FAILURES", default=5)
LOUPE_SHARE_PASSWORD_WINDOW_MIN = env.int("LOUPE_SHARE_PASSWORD_WINDOW_MIN", default=15)
# Holders of these roles (comma-separated: director, supervisor, producer, artist, performer) see
# none of a production where they hold one until they sign in with a second factor, whatever the
# production's own "require MFA of members". Set it empty to relax it (the embedded demo does).
LOUPE_MFA_REQUIRED_ROLES = [role for role in env.list("LOUPE_MFA_REQUIRED_ROLES",
                                                      default=["director", "supervisor", "producer"]) if role]
_unknown_roles = set(LOUPE_MFA_REQUIRED_ROLES) - {"director", "supervisor", "artist", "producer", "performer"}
if _unknown_roles:
    raise ImproperlyConfigured(f"LOUPE_MFA_REQUIRED_ROLES names no such role: {', '.join(sorted(_unknown_roles))}")

# Single sign-on with the studio's identity provider over OpenID Connect (mozilla-django-oidc;
# frontend.sso, docs/security.md). Off unless LOUPE_OIDC_ISSUER is set; the provider's endpoints
# and keys come from its discovery document (ISSUER/.well-known/openid-configuration). The sign-in
# page then offers "Sign in with LOUPE_OIDC_PROVIDER_NAME". A person is their ID token's
# (iss, sub); on a first sign-in an account is made for them (LOUPE_OIDC_CREATE_USERS) named by
# the LOUPE_OIDC_USERNAME_CLAIM claim. Production roles are given in Loupe, and also by the
# provider when LOUPE_OIDC_ROLES_CLAIM names a claim (e.g. `groups`) whose values
# LOUPE_OIDC_ROLES_PREFIX<PRODUCTION CODE>:<role> (e.g. loupe:NGT01:director) are made the
# person's provider-given roles at each sign-in (services.accounts.sso_roles_sync, ADR 0012).
# The provider's sign-in counts as a second factor when its `amr` claim names one
# of LOUPE_OIDC_MFA_AMR (RFC 8176 values) or its `acr` is one of LOUPE_OIDC_MFA_ACR.
LOUPE_OIDC_ISSUER = env.str("LOUPE_OIDC_ISSUER", default="")
LOUPE_OIDC_CLIENT_ID = env.str("LOUPE_OIDC_CLIENT_ID", default="")
LOUPE_OIDC_CLIENT_SECRET = env.str("LOUPE_OIDC_CLIENT_SECRET", default="")
LOUPE_OIDC_PROVIDER_NAME = env.str("LOUPE_OIDC_PROVIDER_NAME", default="your studio")
LOUPE_OIDC_SCOPES = env.str("LOUPE_OIDC_SCOPES", default="openid email profile")
LOUPE_OIDC_SIGN_ALGO = env.str("LOUPE_OIDC_SIGN_ALGO", default="RS256")
LOUPE_OIDC_USERNAME_CLAIM = env.str("LOUPE_OIDC_USERNAME_CLAIM", default="preferred_username")
LOUPE_OIDC_CREATE_USERS = env.bool("LOUPE_OIDC_CREATE_USERS", default=True)
LOUPE_OIDC_MFA_AMR = env.list("LOUPE_OIDC_MFA_AMR", default=["mfa"])
LOUPE_OIDC_MFA_ACR = env.list("LOUPE_OIDC_MFA_ACR", default=[])
LOUPE_OIDC_ROLES_CLAIM = env.str("LOUPE_OIDC_ROLES_CLAIM", default="")
LOUPE_OIDC_ROLES_PREFIX = env.str("LOUPE_OIDC_ROLES_PREFIX", default="loupe:")
if LOUPE_OIDC_ISSUER and not (LOUPE_OIDC_CLIENT_ID and LOUPE_OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured("With LOUPE_OIDC_ISSUER set, set LOUPE_OIDC_CLIENT_ID and LOUPE_OIDC_CLIENT_SECRET too.")
if LOUPE_OIDC_ISSUER:
    # Signing out of Loupe goes on to the provider's end-session page (a form's redirect).
    from urllib.parse import urlsplit as _urlsplit

    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(
        "{0.scheme}://{0.netloc}".format(_urlsplit(LOUPE_OIDC_ISSUER)))

# Passkeys (WebAuthn; django-otp-webauthn, frontend.passkeys) as a second factor. The relying
# party ID is the site's domain (passkeys are bound to it: changing it orphans them), and the
# origins are every address people open Loupe at (https://, or http://localhost for one machine).
OTP_WEBAUTHN_RP_ID = env.str("LOUPE_WEBAUTHN_RP_ID", default="localhost")
OTP_WEBAUTHN_RP_NAME = env.str("LOUPE_WEBAUTHN_RP_NAME", default="Loupe")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list("LOUPE_WEBAUTHN_ORIGINS", default=["http://localhost:8000"])
# A passkey is the second step after the password or the studio's sign-in, not a sign-in alone.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "reviews.api.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON only: DRF's browsable pages carry inline scripts and styles, which the
    # Content-Security-Policy refuses; people read the API through /api/docs/ (served from here).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "reviews.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "reviews.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PARSER_CLASSES": ["reviews.api.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    # Writes (POST, PUT, PATCH, DELETE) per person, counted in the shared cache (reviews.throttling).
    "DEFAULT_THROTTLE_CLASSES": ["reviews.throttling.WriteRateThrottle"],
}
# Rate limits per person: API writes (and notes and drawings in review rooms) per minute, counted
# across web processes in the cache; and review-room WebSocket messages of any kind per second
# (a burst of twice that is allowed), counted per person in each web process.
LOUPE_WRITE_RATE_PER_MIN = env.int("LOUPE_WRITE_RATE_PER_MIN", default=120)
LOUPE_WS_MESSAGES_PER_S = env.int("LOUPE_WS_MESSAGES_PER_S", default=200)
SPECTACULAR_SETTINGS = {
    # The schema and its viewer are for people signed in (they map every operation).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "TITLE": "Loupe API",
    "DESCRIPTION": "Productions, dailies, fix requests, jobs, proposals and review decisions.",
    "VERSION": "0.1.0",
    # Swagger UI served from this installation's static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a field named "kind": each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "FixKindEnum": "reviews.models.FixKind",
        "FindingKindEnum": "reviews.models.FindingKind",
        "LearnedModelKindEnum": "reviews.models.LearnedModelKind",
        "AnnotationKindEnum": "reviews.models.AnnotationKind",
        "NotificationKindEnum": "reviews.models.NotificationKind",
        "JobStateEnum": "reviews.models.JobState",
        "IngestStateEnum": "reviews.models.IngestState",
        "IngestStepEnum": "reviews.models.IngestStep",
    },
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Static files are served by WhiteNoise from the apps' folders, so the ASGI server needs no
# collectstatic step on one machine; behind a CDN, run collectstatic and set this to False.
WHITENOISE_USE_FINDERS = env.bool("LOUPE_STATIC_FROM_APPS", default=True)

# === Operations: health, metrics, request ids, logs (docs/operations.md) =====================
# This block is the operations side's; it only adds to the settings above.
# Request id first (every later log line carries it), then the metrics taken around the rest.
MIDDLEWARE = ["portal.request_id.request_id_middleware", "portal.metrics.HttpMetricsMiddleware", *MIDDLEWARE]
# Probes and the scrape reach web processes over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# /readyz gives each dependency this long to answer (seconds).
LOUPE_READY_TIMEOUT_S = env.float("LOUPE_READY_TIMEOUT_S", default=3.0)
# Logs: "json" (one JSON object a line: time, level, logger, message, request_id — how it runs
# in deployment) or "plain". Each line carries the request id (portal.request_id).
LOUPE_LOG_FORMAT = env.str("LOUPE_LOG_FORMAT", default="plain")
if LOUPE_LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOUPE_LOG_FORMAT is json or plain, not {LOUPE_LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.request_id.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(process)d",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOUPE_LOG_FORMAT,
                             "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
# Workers log through the same configuration (so their lines are JSON too and name the request
# that queued the task) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
