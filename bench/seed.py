"""Seeds the benchmark data set with bulk SQL (COPY), in a few seconds, into a freshly migrated database.

Shape: ORG_COUNT organizations cycling through the three plan kinds, each with SMALL_ORG_MEMBERS members,
plus organization 1 ("hot") on usage-based Enterprise with HOT_ORG_MEMBERS members. Every member holds a seat
(tiers from the default tier table); caps are set on some organizations, tiers and members (amounts high
enough that the load is admitted: the benchmark measures the full decision, not early refusals); seat-based
organizations have extra usage on (Team with a large prepaid balance). One API key per organization, whose
raw value is derived from the organization number, so the load scripts can use it.
The price table comes from the usage app's data migration.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import psycopg

from apps.seats.defaults import DEFAULT_TIERS

ORG_COUNT = 1000
HOT_ORG_MEMBERS = 10_000
SMALL_ORG_MEMBERS = 10
PLAN_CYCLE = ("enterprise_usage", "enterprise_seat", "team")
NOW = "2026-01-01T00:00:00+00:00"


def raw_key(org_no: int) -> str:
    return f"bp_live_bench{org_no:05d}_" + hashlib.sha256(f"bench-key-{org_no}".encode()).hexdigest()[:40]


def member_email(org_no: int, member_no: int) -> str:
    return f"m{member_no}@org{org_no}.bench"


def _copy(cur, table: str, columns: list[str], rows) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(dsn: str) -> dict:
    """Fill the database; returns what the load scripts need (keys and member emails per organization)."""
    orgs = []  # (id, plan_kind, member_count)
    for no in range(1, ORG_COUNT + 1):
        plan = "enterprise_usage" if no == 1 else PLAN_CYCLE[no % 3]
        orgs.append((no, plan, HOT_ORG_MEMBERS if no == 1 else SMALL_ORG_MEMBERS))

    with psycopg.connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        _copy(cur, "organizations_organization",
              ["id", "name", "slug", "plan_kind", "billing_timezone", "currency", "hipaa_ready", "created_at"],
              ((no, f"Bench org {no}", f"bench-org-{no}", plan, "UTC", "USD", False, NOW) for no, plan, _ in orgs))

        tier_rows, tiers_by_org = [], {}
        tier_id = 0
        for no, plan, _ in orgs:
            tiers_by_org[no] = []
            for position, (code, fee, included, products) in enumerate(DEFAULT_TIERS[plan]):
                tier_id += 1
                tier_rows.append((tier_id, no, str(code), "USD", fee, "USD", included,
                                  json.dumps([str(p) for p in products]), position))
                tiers_by_org[no].append(tier_id)
        _copy(cur, "seats_seattier",
              ["id", "organization_id", "code", "monthly_fee_currency", "monthly_fee", "included_usage_currency",
               "included_usage", "products", "position"], tier_rows)

        user_rows, membership_rows, seat_rows = [], [], []
        members_by_org: dict[int, list[tuple[int, str]]] = {}
        uid = 0
        for no, _plan, count in orgs:
            members_by_org[no] = []
            for m in range(count):
                uid += 1
                email = member_email(no, m)
                role = "primary_owner" if m == 0 else "member"
                user_rows.append((uid, "!", False, email, "", f"user_bench{uid:08d}", True, False, NOW))
                membership_rows.append((uid, role, NOW, uid, no))
                seat_rows.append((uid, NOW, uid, no, tiers_by_org[no][-1 if m % 4 == 0 else 0]))
                members_by_org[no].append((uid, email))
        _copy(cur, "accounts_user",
              ["id", "password", "is_superuser", "email", "name", "public_id", "is_active", "is_staff",
               "date_joined"], user_rows)
        _copy(cur, "organizations_membership", ["id", "role", "joined_at", "user_id", "organization_id"],
              membership_rows)
        _copy(cur, "seats_seatassignment", ["id", "started_at", "membership_id", "organization_id", "tier_id"],
              seat_rows)

        caps, cap_id = [], 0

        def cap(org_no, scope, amount, tier=None, membership=None):
            nonlocal cap_id
            cap_id += 1
            caps.append((cap_id, scope, amount, f"spl_bench{cap_id:08d}", NOW, NOW, membership, org_no, tier))

        big = Decimal("1000000.00")
        cap(1, "organization", big)  # the hot org sums its slots on every admission
        cap(1, "seat_tier", big, tier=tiers_by_org[1][0])
        for uid_, _ in members_by_org[1][::50]:
            cap(1, "member", big, membership=uid_)
        for no, plan, _ in orgs[1:]:
            if no % 3 == 0:
                cap(no, "organization", big)
            if no % 5 == 0 and plan != "team":
                cap(no, "seat_tier", big, tier=tiers_by_org[no][0])
            if no % 7 == 0:
                cap(no, "member", big, membership=members_by_org[no][1][0])
        _copy(cur, "usage_spendcap",
              ["id", "scope", "amount", "public_id", "created_at", "updated_at", "membership_id",
               "organization_id", "tier_id"], caps)

        settings_rows = []
        for no, plan, _ in orgs:
            if plan == "enterprise_usage":
                continue
            balance = Decimal("100000000") if plan == "team" else Decimal("0")
            settings_rows.append((no, True, True, True, balance, False, NOW, no))
        _copy(cur, "extra_usage_extrausagesettings",
              ["id", "enabled", "all_members", "requests_enabled", "prepaid_balance", "auto_reload_enabled",
               "updated_at", "organization_id"], settings_rows)

        _copy(cur, "organizations_apikey",
              ["id", "name", "public_id", "prefix", "digest", "created_at", "organization_id"],
              ((no, "bench", f"key_bench{no:08d}", raw_key(no)[:12],
                hashlib.sha256(raw_key(no).encode()).hexdigest(), NOW, no) for no, _, _ in orgs))

        for table in ("organizations_organization", "seats_seattier", "accounts_user", "organizations_membership",
                      "seats_seatassignment", "usage_spendcap", "extra_usage_extrausagesettings",
                      "organizations_apikey"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        # Vacuumed (hint bits, visibility map) and analyzed before any load, so the first points measured do not
        # race autovacuum over the freshly copied rows.
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return {
        "orgs": {no: {"plan": plan, "key": raw_key(no), "members": [e for _, e in members_by_org[no]]}
                 for no, plan, _ in orgs},
        "hot_org": 1,
        "counts": {"organizations": len(orgs), "members": uid, "caps": len(caps), "tiers": len(tier_rows)},
    }


def write_load_files(data: dict, directory) -> dict:
    """Tab-separated `key<TAB>email` lines for the Lua scripts: `spread` (every small org's members),
    `hot` (the 10,000 members of the hot org), `orgs` (one member per small org, for batches)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    hot = data["orgs"][data["hot_org"]]
    spread_lines, org_lines = [], []
    for no, org in sorted(data["orgs"].items()):
        if no == data["hot_org"]:
            continue
        spread_lines += [f"{org['key']}\t{email}" for email in org["members"]]
        org_lines.append(f"{org['key']}\t{','.join(org['members'])}")
    files = {
        "spread": spread_lines,
        "hot": [f"{hot['key']}\t{email}" for email in hot["members"]],
        "batch_orgs": org_lines,
    }
    for name, lines in files.items():
        path = directory / f"{name}.tsv"
        path.write_text("\n".join(lines) + "\n")
        paths[name] = str(path)
    return paths
