"""The header's language picker: saves the preference of a logged-in user, and for everyone (also visitors who
are not logged in) sets Django's language cookie and returns to the page they came from."""

from django.conf import settings
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from .services import user_language_set


@require_POST
def language_set(request):
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_set(user=request.user, language=language)
    return set_language(request)
