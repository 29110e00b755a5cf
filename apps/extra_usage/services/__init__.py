"""Writes for extra usage, one module per subdomain:

- `switches`: the owners' switches (extra usage on/off, all or chosen members, a member's own switch, whether
  members may send requests). Every change writes an audit row (old → new) in its transaction and returns early
  when nothing changed. Turning extra usage off keeps every cap as configured; turning it on restores them.
- `prepaid` (Team): a prepaid balance, a ledger whose rows always sum to the balance. Money is only ever added
  by a succeeded PrepaidCharge: the charge is claimed with a unique row, the provider is called outside any
  transaction (with the claim's key as its idempotency key), and the ledger row and the balance change are
  written together when it succeeds. A failed payment changes no balance. Usage is drawn in the event's
  transaction.
- `auto_reload` (Team): when the balance is at or below the owner's threshold, exactly one reload is bought per
  crossing, whatever the number of events or workers that notice it.
- `usage_requests` (Enterprise): members' requests for more usage and their review. At most one pending per
  member (a partial unique index); a denied member may ask again after REQUEST_COOLDOWN; the decision email
  goes out after commit, claimed once per request.
- `digest`: the admins' daily email of pending requests, once per admin per local day.
"""
