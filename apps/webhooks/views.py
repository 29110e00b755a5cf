"""Settings > Webhooks: owners register endpoints, see each one's delivery log, send a test event, replay a
failed delivery, rotate the signing secret and delete endpoints.

Access: owners and the primary owner. Admins and members get a 404 (like the other owner-only settings), anyone
outside the organization a 404, an anonymous visitor the login page. An endpoint or delivery of another
organization is a 404. A new or rotated secret is shown once, on the page that made it.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.organizations.permissions import Capability, require

from . import transport
from .forms import EndpointEditForm, EndpointForm
from .models import DeliveryStatus
from .selectors import deliveries_for, delivery_get, endpoint_get, endpoints_for
from .services import (
    delivery_replay,
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_update,
    webhook_test_send,
)

PAGE_SIZE = 50


def _owner(request, slug):
    return require(request.user, slug, Capability.MANAGE_BILLING, hide=True)


def _endpoint(membership, public_id):
    endpoint = endpoint_get(organization=membership.organization, public_id=public_id)
    if endpoint is None:
        raise Http404
    return endpoint


def _errors_to_form(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _list_page(request, membership, form, new_secret=None, status=200):
    context = {"organization": membership.organization, "membership": membership, "form": form,
               "endpoints": endpoints_for(organization=membership.organization), "new_secret": new_secret}
    return render(request, "webhooks/endpoints.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def endpoints_page(request, slug):
    membership = _owner(request, slug)
    if request.method == "GET":
        return _list_page(request, membership, EndpointForm())
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _list_page(request, membership, form, status=400)
    try:
        endpoint, secret = endpoint_create(organization=membership.organization, url=form.cleaned_data["url"],
                                           description=form.cleaned_data["description"],
                                           events=form.cleaned_data["events"], actor=request.user,
                                           now=timezone.now())
    except ValidationError as error:
        _errors_to_form(form, error)
        return _list_page(request, membership, form, status=400)
    return _list_page(request, membership, EndpointForm(), new_secret={"endpoint": endpoint, "secret": secret})


def _detail_page(request, membership, endpoint, form=None, new_secret=None, status=200):
    status_filter = request.GET.get("status", "")
    paginator = Paginator(deliveries_for(endpoint=endpoint, status=status_filter), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    form = form or EndpointEditForm(initial={"url": endpoint.url, "description": endpoint.description,
                                             "events": endpoint.events, "enabled": endpoint.enabled})
    context = {"organization": membership.organization, "membership": membership, "endpoint": endpoint,
               "form": form, "page": page, "new_secret": new_secret, "status_filter": status_filter,
               "statuses": DeliveryStatus.choices}
    return render(request, "webhooks/endpoint_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request, slug, public_id):
    membership = _owner(request, slug)
    endpoint = _endpoint(membership, public_id)
    if request.method == "GET":
        return _detail_page(request, membership, endpoint)
    form = EndpointEditForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, membership, endpoint, form=form, status=400)
    try:
        endpoint_update(endpoint=endpoint, actor=request.user, now=timezone.now(), **form.cleaned_data)
    except ValidationError as error:
        _errors_to_form(form, error)
        return _detail_page(request, membership, endpoint, form=form, status=400)
    messages.success(request, _("Endpoint saved."))
    return redirect("webhooks:endpoint_detail", slug=slug, public_id=public_id)


@login_required
@require_POST
def endpoint_rotate(request, slug, public_id):
    membership = _owner(request, slug)
    endpoint, secret = endpoint_secret_rotate(endpoint=_endpoint(membership, public_id), actor=request.user,
                                              now=timezone.now())
    return _detail_page(request, membership, endpoint, new_secret={"endpoint": endpoint, "secret": secret})


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_delete_page(request, slug, public_id):
    membership = _owner(request, slug)
    endpoint = _endpoint(membership, public_id)
    if request.method == "POST":
        endpoint_delete(endpoint=endpoint, actor=request.user, now=timezone.now())
        messages.success(request, _("Deleted the endpoint %(url)s.") % {"url": endpoint.url})
        return redirect("webhooks:endpoints", slug=slug)
    context = {"organization": membership.organization, "membership": membership, "endpoint": endpoint}
    return render(request, "webhooks/endpoint_delete.html", context)


@login_required
@require_POST
def endpoint_test(request, slug, public_id):
    membership = _owner(request, slug)
    endpoint = _endpoint(membership, public_id)
    try:
        webhook_test_send(endpoint=endpoint, actor=request.user, now=timezone.now())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Test event sent. Its delivery appears in the log below."))
    return redirect("webhooks:endpoint_detail", slug=slug, public_id=public_id)


@login_required
@require_http_methods(["GET"])
def delivery_detail(request, slug, public_id, delivery_id):
    membership = _owner(request, slug)
    endpoint = _endpoint(membership, public_id)
    delivery = delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    if delivery is None:
        raise Http404
    event = delivery.event
    body = transport.body_encode(msg_id=event.public_id, event_type=event.event_type, created_at=event.created_at,
                                 data=event.payload)
    context = {"organization": membership.organization, "membership": membership, "endpoint": endpoint,
               "delivery": delivery, "attempts": list(delivery.attempts.all()),
               "body": json.dumps(json.loads(body), indent=2, sort_keys=True)}
    return render(request, "webhooks/delivery_detail.html", context)


@login_required
@require_POST
def delivery_replay_view(request, slug, public_id, delivery_id):
    membership = _owner(request, slug)
    endpoint = _endpoint(membership, public_id)
    delivery = delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    if delivery is None:
        raise Http404
    try:
        delivery_replay(delivery=delivery, actor=request.user, now=timezone.now())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Delivery queued again, with the same webhook-id."))
    return redirect("webhooks:delivery_detail", slug=slug, public_id=public_id, delivery_id=delivery_id)
