"""``/api/`` lists the API to people signed in, and the OpenAPI UI is served from this
installation (no CDN)."""
import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_api_index_lists_every_endpoint_and_the_docs_are_local():
    from reviews.api import urls

    assert Client().get("/api/", HTTP_ACCEPT="application/json").status_code in (401, 403)
    client = Client()
    client.force_login(User.objects.create_user("reader"))
    index = client.get("/api/", HTTP_ACCEPT="application/json")
    assert index.status_code == 200
    body = index.json()
    assert (body["schema"], body["docs"]) == ("/api/schema/", "/api/docs/")
    paths = {endpoint["path"] for endpoint in body["endpoints"]}
    assert len(paths) == len(urls.urlpatterns) - 1 and "/api/productions/{code}/fix-requests/{pk}/jobs/" in paths
    assert all(endpoint["description"] and endpoint["methods"] for endpoint in body["endpoints"])

    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs
    assert "//cdn" not in docs and "<script>" not in docs  # the page's own script is a file too
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
