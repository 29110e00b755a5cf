"""A local stand-in for the Stripe API, answering exactly the calls StripeProvider makes with the response
bodies Stripe documents (https://docs.stripe.com/api): create PaymentIntent (succeeded, processing, or a 402
card_error carrying the PaymentIntent), create Customer, create Checkout Session (setup or payment mode). It
validates the parameters as Stripe does (`validate`: a 400 invalid_request_error naming the parameter) and
honours Idempotency-Key like Stripe: the same key replays the first response. A thread in the test process."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

_ids = itertools.count(1)


@dataclass
class Call:
    method: str
    path: str
    headers: dict
    form: dict


@dataclass
class FakeStripe:
    server: ThreadingHTTPServer
    calls: list[Call] = field(default_factory=list)
    # What the next PaymentIntent creations answer: "succeeded", "processing", "declined" or "error" (500).
    outcomes: list[str] = field(default_factory=lambda: ["succeeded"])
    replies: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def outcome(self) -> str:
        return self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]

    def answer(self, call: Call) -> tuple[int, dict]:
        key = call.headers.get("idempotency-key")
        if key and (call.path, key) in self.replies:
            return self.replies[(call.path, key)]
        status, body = self._answer(call)
        if key and status < 500:  # Stripe does not save the result of a request that failed with a 500
            self.replies[(call.path, key)] = (status, body)
        return status, body

    def _answer(self, call: Call) -> tuple[int, dict]:
        form, n = call.form, next(_ids)
        invalid = validate(call.path, form, call.headers)
        if invalid is not None:
            return 400, {"error": {"type": "invalid_request_error", **invalid}}
        if call.path == "/v1/customers":
            return 200, {"id": f"cus_test{n}", "object": "customer", "name": form.get("name"),
                         "email": form.get("email"), "metadata": _metadata(form), "livemode": False}
        if call.path == "/v1/checkout/sessions":
            return 200, {"id": f"cs_test_{n}", "object": "checkout.session", "mode": form.get("mode"),
                         "customer": form.get("customer"), "status": "open",
                         "success_url": form.get("success_url"), "cancel_url": form.get("cancel_url"),
                         "url": f"https://checkout.stripe.com/c/pay/cs_test_{n}", "livemode": False}
        if call.path == "/v1/payment_intents":
            outcome = self.outcome()
            if outcome == "error":
                return 500, {"error": {"type": "api_error", "message": "An unknown error occurred."}}
            intent = {
                "id": f"pi_test{n}", "object": "payment_intent", "amount": int(form["amount"]),
                "amount_received": int(form["amount"]) if outcome == "succeeded" else 0,
                "currency": form["currency"], "customer": form.get("customer"),
                "payment_method": form.get("payment_method"), "description": form.get("description"),
                "metadata": _metadata(form), "livemode": False, "confirmation_method": "automatic",
                "status": {"succeeded": "succeeded", "processing": "processing"}.get(outcome,
                                                                                    "requires_payment_method"),
            }
            if outcome == "declined":
                error = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                         "message": "Your card has insufficient funds.", "payment_intent": intent,
                         "doc_url": "https://docs.stripe.com/error-codes/card-declined"}
                intent["last_payment_error"] = {k: v for k, v in error.items() if k != "payment_intent"}
                return 402, {"error": error}
            return 200, intent
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL "
                                                                           f"(POST: {call.path})."}}


# The parameters each endpoint accepts (https://docs.stripe.com/api), by top-level name: Stripe refuses any other
# ("Received unknown parameter").
KNOWN = {
    "/v1/payment_intents": {"amount", "currency", "customer", "payment_method", "off_session", "confirm",
                            "description", "metadata", "receipt_email", "statement_descriptor_suffix",
                            "payment_method_types", "automatic_payment_methods", "setup_future_usage"},
    "/v1/customers": {"name", "email", "metadata", "description", "address", "phone", "preferred_locales"},
    "/v1/checkout/sessions": {"mode", "customer", "currency", "payment_method_types", "success_url", "cancel_url",
                              "setup_intent_data", "payment_intent_data", "line_items", "metadata",
                              "client_reference_id", "customer_email", "locale"},
}
CURRENCIES = {"usd", "eur", "gbp", "chf"}
MIN_AMOUNT = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50}  # the smallest charge, in cents
MAX_AMOUNT = 99_999_999


def _error(param: str, message: str, code: str = "parameter_invalid") -> dict:
    return {"param": param, "message": message, "code": code}


def _check_metadata(form: dict, prefix: str = "metadata") -> dict | None:
    keys = {k: v for k, v in form.items() if k.startswith(prefix + "[")}
    if len(keys) > 50:
        return _error(prefix, "Metadata can have up to 50 keys.")
    for key, value in keys.items():
        name = key[len(prefix) + 1:-1]
        if len(name) > 40:
            return _error(key, "Metadata keys can be up to 40 characters long.")
        if len(value) > 500:
            return _error(key, "Metadata values can be up to 500 characters long.")
    return None


def validate(path: str, form: dict, headers: dict) -> dict | None:
    """What Stripe answers 400 to, for the endpoints the portal calls: unknown or missing parameters, amounts
    below the currency's minimum or not whole cents, a currency Stripe does not know, off_session without
    confirm, a payment method without its customer, oversized metadata or idempotency keys."""
    if len(headers.get("idempotency-key", "")) > 255:
        return _error("Idempotency-Key", "Keys for idempotent requests can only be 255 characters long.")
    known = KNOWN.get(path)
    if known is None:
        return None
    for key in form:
        if key.split("[", 1)[0] not in known:
            return _error(key.split("[", 1)[0], f"Received unknown parameter: {key.split('[', 1)[0]}",
                          "parameter_unknown")
    invalid = _check_metadata(form) or _check_metadata(form, "payment_intent_data[metadata]") \
        or _check_metadata(form, "setup_intent_data[metadata]")
    if invalid:
        return invalid
    if path == "/v1/payment_intents":
        for required in ("amount", "currency"):
            if not form.get(required):
                return _error(required, f"Missing required param: {required}.", "parameter_missing")
        if not form["amount"].isdigit():
            return _error("amount", "Invalid integer: " + form["amount"])
        currency = form["currency"]
        if currency not in CURRENCIES:
            return _error("currency", f"Invalid currency: {currency}.")
        amount = int(form["amount"])
        if amount < MIN_AMOUNT[currency]:
            return _error("amount", "Amount must be at least the currency's minimum charge.", "amount_too_small")
        if amount > MAX_AMOUNT:
            return _error("amount", "Amount must be no more than 999,999.99.", "amount_too_large")
        if form.get("off_session") == "true" and form.get("confirm") != "true":
            return _error("off_session", "off_session can only be used when confirm=true.")
        if form.get("payment_method") and form.get("confirm") == "true" and not form.get("customer"):
            return _error("customer", "A PaymentMethod attached to a customer needs that customer.")
        if len(form.get("description", "")) > 1000:
            return _error("description", "The description can be up to 1000 characters long.")
    if path == "/v1/customers" and len(form.get("name", "")) > 256:
        return _error("name", "The name can be up to 256 characters long.")
    if path == "/v1/checkout/sessions":
        mode = form.get("mode")
        if mode not in ("payment", "setup", "subscription"):
            return _error("mode", "Missing required param: mode.", "parameter_missing")
        if not form.get("success_url"):
            return _error("success_url", "Missing required param: success_url.", "parameter_missing")
        if mode == "payment" and not any(k.startswith("line_items[") for k in form):
            return _error("line_items", "line_items is required in payment mode.", "parameter_missing")
        if mode == "setup" and not (form.get("currency") or any(k.startswith("payment_method_types[")
                                                                 for k in form)):
            return _error("currency", "currency is required in setup mode without payment_method_types.",
                          "parameter_missing")
        if mode == "payment":
            for key, value in form.items():
                if key.endswith("[price_data][unit_amount]") and (not value.isdigit() or int(value) < 50):
                    return _error(key, "Amount must be at least the currency's minimum charge.",
                                  "amount_too_small")
    return None


def _metadata(form: dict) -> dict:
    return {k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")}


def start() -> FakeStripe:
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            fake: FakeStripe = holder["fake"]
            call = Call("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, dict(parse_qsl(raw)))
            with fake.lock:
                fake.calls.append(call)
                status, body = fake.answer(call)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("request-id", f"req_{next(_ids)}")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["fake"] = fake = FakeStripe(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake
