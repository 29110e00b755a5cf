"""Hostile endpoint URLs and event lists, generated with hypothesis, with the SSRF guard on: never a 5xx;
either the endpoint is saved (with its audit row) or the form answers 400 and nothing changes."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.organizations.models import AuditEntry
from apps.webhooks.models import EventType, WebhookEndpoint
from tests.webhooks.conftest import owner_of

pytestmark = pytest.mark.django_db
FAST = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))

urls = st.one_of(
    st.text(max_size=80),
    st.builds(lambda host, port, path: f"https://{host}{port}/{path}",
              st.text(max_size=30), st.sampled_from(["", ":0", ":443", ":99999", ":-1", ":x"]), st.text(max_size=20)),
    st.sampled_from(["https://[::1/", "https://[zz]/", "https://a\x00b/", "https://exa mple.com/", "https://./",
                     "https://93.184.215.14:8443/ok", "https://127.1/", "https://0x7f000001/", "https://2130706433/",
                     "javascript:alert(1)", "https://xn--/", "https://" + "a" * 300 + ".com/", "//evil/"]),
)
events = st.lists(st.one_of(st.sampled_from(EventType.values), st.text(max_size=20)), max_size=4)


@pytest.fixture
def guard(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.WEBHOOKS_REQUIRE_HTTPS = True


def test_hostile_endpoint_input_never_errors_and_saves_whole_or_nothing(org, guard):
    client = Client()
    client.force_login(owner_of(org))

    @FAST
    @given(url=urls, chosen=events)
    def check(url, chosen):
        before = WebhookEndpoint.objects.count(), AuditEntry.objects.count()
        response = client.post("/orgs/acme/settings/webhooks/", {"url": url, "events": chosen})
        after = WebhookEndpoint.objects.count(), AuditEntry.objects.count()
        assert response.status_code in (200, 400), (url, chosen, response.status_code)
        if response.status_code == 400:
            assert after == before
        else:
            assert after == (before[0] + 1, before[1] + 1)
            WebhookEndpoint.objects.all().delete()  # stay under the per-organization limit

    check()
