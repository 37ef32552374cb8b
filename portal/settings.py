"""Loupe settings, read from the environment (12-factor, django-environ).

With nothing set, Loupe runs on embedded defaults on one machine: SQLite under ``var/``, the
in-memory channel layer, and Celery on kombu's filesystem transport (no broker server). With
``DATABASE_URL`` and ``REDIS_URL`` set it uses PostgreSQL, the Redis channel layer and the Redis
broker — the way it runs in production and in CI. ``docs/operations.md`` lists every variable.
"""
from pathlib import Path

import environ
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
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "reviews",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'loupe.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file-backed test database, so a Celery worker process started by the tests sees it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-loupe.sqlite3")}
    # The web process and the worker write concurrently: wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
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
# True when web processes and workers share the channel layer, so a worker's group_send reaches
# browsers. With the in-memory layer the web process reads job progress from the database.
CHANNEL_LAYER_IS_SHARED = bool(REDIS_URL)

# Engine jobs go to "gpu", everything else (ingest, proxies, reports) to "default".
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "reviews.tasks.job_run": {"queue": "gpu"},
    "reviews.tasks.look_model_train_run": {"queue": "gpu"},
    "reviews.tasks.clip_proxy_run": {"queue": "default"},
    "reviews.tasks.fix_request_screen_run": {"queue": "gpu"},
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
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): after LOUPE_LOGIN_FAILURE_LIMIT failed sign-ins for one user
# name from one address, that pair is refused for LOUPE_LOGIN_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("LOUPE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOUPE_LOGIN_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "frontend/locked_out.html"
# The client's address is REMOTE_ADDR: behind a reverse proxy, run Daphne with --proxy-headers
# so that it comes from X-Forwarded-For (docs/operations.md).

# TOTP (RFC 6238) devices: the issuer name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env.str("LOUPE_OTP_ISSUER", default="Loupe")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "reviews.api.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "reviews.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "reviews.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loupe API",
    "DESCRIPTION": "Productions, dailies, fix requests, jobs, proposals and review decisions.",
    "VERSION": "0.1.0",
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
