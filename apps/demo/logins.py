"""Who can sign in to the demo, as plain data: `seed_demo` creates these people, and the demo runner
(scripts/demo.py) prints them before Django starts. No Django imports here, on purpose."""

PASSWORD = "demo"  # noqa: S105 (the demo's published password)
STAFF_EMAIL = "staff@billing-portal.example"
MEMBER_COUNT = 24

# (slug, name, plan as the pages call it)
DEMO_ORGS = (
    ("acme-team", "Acme Team", "Team"),
    ("globex-enterprise", "Globex Corporation", "Enterprise, seat-based"),
    ("initech-enterprise", "Initech", "Enterprise, usage-based"),
)


def login_lines(site_url: str) -> list[str]:
    """The demo's address and every login, a few lines."""
    site_url = site_url.rstrip("/")
    lines = [f"Billing portal demo: {site_url}/   (every password: {PASSWORD})",
             f"  Django admin: {site_url}/admin/   {STAFF_EMAIL} (then a second factor: the first visit "
             "shows a QR code and key for any authenticator app)"]
    for slug, name, plan in DEMO_ORGS:
        domain = f"{slug}.example"
        lines.append(f"  {name} ({plan}): owner@{domain} (primary owner), owner2@… (owner), admin@… (admin), "
                     f"member1@… to member{MEMBER_COUNT}@{domain}")
    return lines
