"""Third-party strings whose Korean translation we replace (extracted into locale/ by makemessages).

allauth's Korean text glues a particle to the link ("…/KEY/을 클릭하세요"), so mail clients link to
".../을"; our catalogue (LOCALE_PATHS wins over the app's) puts the link on its own.
"""

from django.utils.translation import gettext_noop

OVERRIDDEN = [
    gettext_noop("To confirm this is correct, go to %(activate_url)s"),
]
