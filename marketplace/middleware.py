from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class KoreanFirstLocaleMiddleware(LocaleMiddleware):
    """Korean for every visitor unless they chose English with the language switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a company whose
    browsers run in English would land on an English portal; the city wants Korean first.
    The switch (django.views.i18n.set_language) sets the cookie read here. The API (/api/) follows
    Accept-Language when no cookie chose, so a program asking for English gets English messages.
    """

    def process_request(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language is None and request.path.startswith("/api/") and "HTTP_ACCEPT_LANGUAGE" in request.META:
            # A program says which language it wants; a browser on the portal's own pages still gets Korean first.
            language = translation.get_language_from_request(request)
        if language not in dict(settings.LANGUAGES):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
