from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from .permissions import Capability, can, membership_for
from .selectors import memberships_for_user


@login_required
def home(request):
    """After login: straight to the user's organization, or a switcher if they belong to several."""
    memberships = list(memberships_for_user(user=request.user))
    if len(memberships) == 1:
        return redirect("organizations:organization_home", slug=memberships[0].organization.slug)
    return render(request, "organizations/switcher.html", {"memberships": memberships})


@login_required
def organization_home(request, slug):
    """Owners and admins land on Settings > Usage; members on their own usage page."""
    membership = membership_for(request.user, slug)
    for url_name, capability in (("console:usage_settings", Capability.VIEW_ORG_USAGE),
                                 ("monitoring:my_usage", Capability.VIEW_OWN_USAGE)):
        try:
            target = reverse(url_name, kwargs={"slug": slug})
        except NoReverseMatch:  # that page's app is not installed
            continue
        if can(membership, capability):
            return redirect(target)
    context = {"membership": membership, "organization": membership.organization}
    return render(request, "organizations/home.html", context)
