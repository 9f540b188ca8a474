from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from marketplace import policy_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("policies/agree/", policy_views.policies_agree, name="policies_agree"),
    path("policies/<slug:kind>/", policy_views.policy, name="policy"),
    path("policies/<slug:kind>/<str:version>/", policy_views.policy, name="policy_version"),
    path("accounts/", include("allauth.urls")),
    path("me/vouchers/", include("transactions.vouchers.urls")),
    path("me/", include("accounts.urls")),
    path("staff/orders/", include("transactions.staff_urls")),
    path("", include("transactions.documents.provider_urls")),
    path("staff/refunds/", include("transactions.refunds.staff_urls")),
    path("staff/packages/", include("transactions.delivery.staff_urls")),
    path("staff/payouts/", include("transactions.statements.staff_urls")),
    path("staff/vouchers/", include("transactions.vouchers.staff_urls")),
    path("staff/harvest/", include("catalog.harvest.urls")),
    path("staff/", include("accounts.staff_urls")),
    path("", include("catalog.dcat.urls")),  # DCAT-AP: /catalog.ttl, /dataset/<slug>.ttl, /themes (issue 17)
    path("", include("catalog.ckan.urls")),  # CKAN's Action API (/api/3/action/…): before the REST API's api/
    path("api/", include("marketplace.api_urls")),
    path("catalog/", include("catalog.urls")),
    path("orders/", include("transactions.urls")),
    path("sales/", include("transactions.statements.urls")),
    path("dev/mail/", views.mailbox, name="dev_mailbox"),
    path("django-admin/", admin.site.urls),
]

handler403 = "marketplace.views.error_403"
handler404 = "marketplace.views.error_404"
handler500 = "marketplace.views.error_500"

if settings.PG_SIMULATOR:
    # The simulated payment gateway (make run, tests, benches; off in production): devtools/pg_simulator.
    urlpatterns.insert(-1, path("pg-sim/", include("devtools.pg_simulator.urls")))

if settings.DEBUG:
    # Lets a developer look at the error pages in both languages while DEBUG is on.
    urlpatterns += [
        path("dev/errors/403/", views.error_403),
        path("dev/errors/404/", views.error_404),
        path("dev/errors/500/", views.error_500),
    ]
