"""A local stand-in for the Stripe API, answering exactly the calls StripeProvider makes with the response
bodies Stripe documents (https://docs.stripe.com/api): create PaymentIntent (succeeded, processing, or a 402
card_error carrying the PaymentIntent), create Customer, create Checkout Session (setup mode). It honours
Idempotency-Key like Stripe: the same key replays the first response. A thread in the test process."""

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
