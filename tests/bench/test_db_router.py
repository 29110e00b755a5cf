"""The read-replica router: off by default, dashboards pointed at a replica with one setting, writes on the
primary always. The replica here is a second alias on the same test database (a test mirror of default), with
its own connection, as a real replica would have."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.organizations.models import Organization
from billing_portal.db_router import PrimaryReplicaRouter, dashboard_db
from tests.factories import OrganizationFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def _replica_alias(django_db_setup):
    """A "replica" alias on the test database for this module's tests, added before their test case is set up
    so they can list it in `databases`."""
    config = {**connections["default"].settings_dict, "TEST": {"MIRROR": "default"}}
    connections.settings["replica"] = config
    yield "replica"
    connections["replica"].close()
    del connections["replica"]
    del connections.settings["replica"]


@pytest.fixture
def replica(_replica_alias):
    return _replica_alias


with_replica = pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "replica"])


def _settings_in_subprocess(**env) -> subprocess.CompletedProcess:
    code = (
        "import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'billing_portal.settings';"
        "from django.conf import settings;"
        "print(json.dumps({'aliases': list(settings.DATABASES), 'dashboard': settings.DASHBOARD_DB_ALIAS,"
        " 'replica': settings.DATABASES.get('replica')}, default=str))"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_REPLICA_URL", "DASHBOARD_DB_ALIAS")}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**base, "SECRET_KEY": "x" * 50, **env}, timeout=60)


def test_dashboards_read_the_primary_when_no_replica_is_configured():
    result = _settings_in_subprocess()
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["aliases"] == ["default"]
    assert loaded["dashboard"] == "default"
    assert dashboard_db() == "default"


def test_replica_url_adds_a_replica_alias_and_points_dashboards_at_it():
    result = _settings_in_subprocess(DATABASE_REPLICA_URL="postgres://reader@replica.internal:5432/billing")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["aliases"] == ["default", "replica"]
    assert loaded["dashboard"] == "replica"
    assert loaded["replica"]["HOST"] == "replica.internal"
    assert loaded["replica"]["TEST"] == {"MIRROR": "default"}


def test_dashboards_can_be_pointed_back_at_the_primary_with_one_setting():
    result = _settings_in_subprocess(DATABASE_REPLICA_URL="postgres://reader@replica.internal:5432/billing",
                                     DASHBOARD_DB_ALIAS="default")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dashboard"] == "default"


def test_malformed_replica_url_fails_at_start_naming_the_variable():
    result = _settings_in_subprocess(DATABASE_REPLICA_URL="not a url")
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URL" in result.stderr


def test_dashboard_alias_naming_a_missing_database_fails_at_start():
    result = _settings_in_subprocess(DASHBOARD_DB_ALIAS="replica")
    assert result.returncode != 0
    assert "DASHBOARD_DB_ALIAS" in result.stderr


@with_replica
def test_dashboard_reads_go_to_the_replica_connection(settings, replica):
    organization = OrganizationFactory(name="Replica Reads Inc")
    settings.DASHBOARD_DB_ALIAS = replica

    with CaptureQueriesContext(connections["default"]) as on_primary, \
            CaptureQueriesContext(connections[replica]) as on_replica:
        found = Organization.objects.using(dashboard_db()).get(pk=organization.pk)

    assert found.name == "Replica Reads Inc"
    assert found._state.db == "replica"
    assert len(on_replica) == 1
    assert len(on_primary) == 0


@with_replica
def test_an_object_read_from_the_replica_is_saved_to_the_primary(settings, replica):
    organization = OrganizationFactory(name="Before")
    settings.DASHBOARD_DB_ALIAS = replica
    from_replica = Organization.objects.using(dashboard_db()).get(pk=organization.pk)

    from_replica.name = "After"
    with CaptureQueriesContext(connections["default"]) as on_primary, \
            CaptureQueriesContext(connections[replica]) as on_replica:
        from_replica.save(update_fields=["name"])

    assert len(on_replica) == 0
    assert any("UPDATE" in q["sql"] for q in on_primary.captured_queries)
    assert Organization.objects.get(pk=organization.pk).name == "After"


@with_replica
def test_queries_without_an_alias_stay_on_the_primary(settings, replica):
    settings.DASHBOARD_DB_ALIAS = replica
    OrganizationFactory()
    with CaptureQueriesContext(connections[replica]) as on_replica:
        assert Organization.objects.count() == 1
    assert len(on_replica) == 0


def test_only_the_primary_is_migrated():
    router = PrimaryReplicaRouter()
    assert router.allow_migrate("default", "usage") is True
    assert router.allow_migrate("replica", "usage") is False
    assert router.db_for_write(Organization) == "default"
