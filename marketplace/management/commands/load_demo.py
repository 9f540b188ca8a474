"""Load the demo organizations and users (idempotent: a second run changes nothing).

Organizations are registered and verified through the same services the pages use, so the
audit trail of the demo reads like a real one.
"""

import contextlib
import io
import uuid
from datetime import datetime
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

from allauth.account.models import EmailAddress
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import selectors, services
from accounts.models import Membership, Organization, User
from catalog import demo
from catalog import services as catalog_services
from catalog.models import DataFile, Dataset, Offer
from catalog.tasks import datafile_check_task
from core.notify import notifications_muted
from transactions import selectors as tx_selectors
from transactions.models import Order
from transactions.payments.services import bank_transfer_confirm, bank_transfer_start
from transactions.services.cart import cart_add
from transactions.services.orders import billing_defaults, checkout_place
from transactions.statements import selectors as statement_selectors
from transactions.statements import services as statement_services

DEMO_PASSWORD = "demo-pass-2026"

ADMIN = ("admin@demo.siheung.kr", "플랫폼 관리자")

# (slug, name_ko, name_en, kind, org_type, brn or parent slug, vat, representative, address)
CITIES = [
    (
        "siheung",
        "시흥시",
        "Siheung City",
        "provider",
        "public_body",
        "134-83-10008",
        "exempt",
        "시흥시장",
        "경기도 시흥시 시청로 20",
    ),
    (
        "daegu",
        "대구광역시",
        "Daegu Metropolitan City",
        "provider",
        "public_body",
        "503-83-10000",
        "exempt",
        "대구광역시장",
        "대구광역시 중구 공평로 88",
    ),
]
DEPARTMENTS = [
    ("siheung-env", "시흥시 환경정책과", "Environmental Policy Division, Siheung", "siheung"),
    ("siheung-energy", "시흥시 기후에너지과", "Climate and Energy Division, Siheung", "siheung"),
    ("siheung-welfare", "시흥시 복지정책과", "Welfare Policy Division, Siheung", "siheung"),
    ("daegu-traffic", "대구광역시 교통정책과", "Transport Policy Division, Daegu", "daegu"),
    ("daegu-safety", "대구광역시 안전총괄과", "Safety Management Division, Daegu", "daegu"),
]
COMPANIES = [
    (
        "airdatalab",
        "(주)에어데이터랩",
        "AirDataLab Inc.",
        "consumer",
        "company",
        "116-82-00276",
        "taxable",
        "김하늘",
        "서울특별시 강남구 테헤란로 123",
    ),
    (
        "smartmobility",
        "스마트모빌리티(주)",
        "Smart Mobility Co., Ltd.",
        "both",
        "company",
        "211-86-08983",
        "taxable",
        "이도윤",
        "대구광역시 수성구 알파시티1로 42",
    ),
    (
        "hanbit-research",
        "한빛도시연구소",
        "Hanbit Urban Research Institute",
        "consumer",
        "research",
        "104-82-13138",
        "exempt",
        "박서연",
        "경기도 시흥시 정왕동 2121",
    ),
]
# (email, name, org slug, role)
PEOPLE = [
    ("official.env@demo.siheung.kr", "정민준 주무관", "siheung-env", "owner"),
    ("publisher.env@demo.siheung.kr", "한지우 주무관", "siheung-env", "publisher"),
    ("official.energy@demo.siheung.kr", "오서준 주무관", "siheung-energy", "owner"),
    ("official.welfare@demo.siheung.kr", "윤하은 주무관", "siheung-welfare", "owner"),
    ("official.traffic@demo.daegu.kr", "최예준 주무관", "daegu-traffic", "owner"),
    ("official.safety@demo.daegu.kr", "강수아 주무관", "daegu-safety", "owner"),
    ("city.siheung@demo.siheung.kr", "시흥시 데이터담당관", "siheung", "owner"),
    ("city.daegu@demo.daegu.kr", "대구시 데이터담당관", "daegu", "owner"),
    ("owner@airdatalab.example", "김하늘", "airdatalab", "owner"),
    ("buyer@airdatalab.example", "문지호", "airdatalab", "buyer"),
    ("owner@smartmobility.example", "이도윤", "smartmobility", "owner"),
    ("buyer@smartmobility.example", "서민재", "smartmobility", "buyer"),
    ("buyer@hanbit.example", "박서연", "hanbit-research", "owner"),
]


def _user(email, name, *, staff=False):
    user, created = User.objects.get_or_create(email=email, defaults={"name": name, "is_staff": staff})
    if created:
        user.set_password(DEMO_PASSWORD)
        if staff:
            user.is_superuser = True
        user.save()
        _verify_email(user)
        # Demo users signed up like anyone else: they agreed to the terms and the privacy policy in force.
        services.policies_agree(actor=user, policies=list(selectors.policies_in_force().values()))
    return user


def _verify_email(user):
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})


class Command(BaseCommand):
    help = "Load demo organizations and users (idempotent)."

    def handle(self, *args, **options):
        # The demo's registrations and decisions are real and audited, but mail nobody.
        with notifications_muted(), transaction.atomic():
            self._load()

    def _load(self):
        admin = _user(*ADMIN, staff=True)
        owners = {slug: email for email, _name, slug, role in PEOPLE if role == "owner"}
        people = {email: _user(email, name) for email, name, _slug, _role in PEOPLE}
        created = 0

        def register(slug, owner_email, **fields):
            nonlocal created
            org = Organization.objects.filter(slug=slug).first()
            if org is None:
                org = services.organization_register(actor=people[owner_email], **fields)
                Organization.objects.filter(pk=org.pk).update(slug=slug)
                org.refresh_from_db()
                services.organization_verify(actor=admin, organization=org, reason="데모 데이터: 확인 완료")
                created += 1
            return org

        for slug, ko, en, kind, org_type, brn, vat, rep, addr in CITIES + COMPANIES:
            register(
                slug,
                owners[slug],
                name_ko=ko,
                name_en=en,
                kind=kind,
                org_type=org_type,
                brn=brn,
                vat_status=vat,
                representative=rep,
                address=addr,
                contact_email=owners[slug],
                contact_name=rep,
                contact_phone="031-310-2114",
            )
        for slug, ko, en, parent_slug in DEPARTMENTS:
            parent = Organization.objects.get(slug=parent_slug)
            register(
                slug,
                owners[slug],
                name_ko=ko,
                name_en=en,
                kind="provider",
                org_type="city_department",
                parent=parent,
                brn=None,
                vat_status="exempt",
                representative=parent.representative,
                address=parent.address,
                contact_email=owners[slug],
                contact_name=ko,
                contact_phone="031-310-2114",
            )

        for email, _name, slug, role in PEOPLE:
            org = Organization.objects.get(slug=slug)
            Membership.objects.get_or_create(user=people[email], organization=org, defaults={"role": role})
            user = people[email]
            if user.active_organization_id is None:
                user.active_organization = org
                user.save(update_fields=["active_organization"])

        datasets_created = self._load_datasets(admin)
        demo.live_feed_setup()  # the live air-quality feed (issue 16): its table made live once
        self._load_orders(people)
        self._load_sales(people, admin)

        lines = [f"    {'admin (platform admin)':<34} {ADMIN[0]}"]
        for email, _name, slug, role in PEOPLE:
            org = Organization.objects.get(slug=slug)
            lines.append(f"    {(org.name_ko + ' · ' + role):<34} {email}")
        lines.append(f"    password: {DEMO_PASSWORD}")
        out = Path(settings.VAR_DIR) / "demo_logins.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.stdout.write(
            f"demo data: {created} organization(s) and {datasets_created} dataset(s) created, {len(PEOPLE) + 1} users present"
        )

    def _load_orders(self, people) -> None:
        """Two purchases through the real services, once: AirDataLab takes a free dataset (paid at once; the
        worker builds its package when the portal runs) and orders the processed forecast by bank transfer,
        left for the platform admin to confirm."""
        buyer = people["buyer@airdatalab.example"]
        company = Organization.objects.get(slug="airdatalab")
        if Order.objects.filter(buyer=company).exists():
            return
        for slug, kind, method in (
            ("siheung-air-quality", "free", "free"),
            ("siheung-pm-forecast", "one_off", "bank_transfer"),
        ):
            offer = Offer.objects.filter(dataset__slug=slug, kind=kind, active=True, buyer__isnull=True).first()
            if offer is None:
                continue
            cart_add(actor=buyer, organization=company, offer=offer)
            lines = tx_selectors.cart_lines(tx_selectors.cart_get(buyer, company), company)
            order = checkout_place(
                actor=buyer,
                organization=company,
                checkout_token=uuid.uuid4(),
                method=method,
                billing=billing_defaults(company),
                accepted={line.offer.pk: line.licence_sha256 for line in lines},
            )
            if method == "bank_transfer":
                bank_transfer_start(actor=buyer, order=order)

    def _load_sales(self, people, admin) -> None:
        """Paid sales in each of the last three months, once, through the real services (checkout, bank transfer,
        the admin's confirmation) with the clock set back to each sale's day; then those months are closed into
        statements and the oldest paid, so the provider's sales charts and statements show something."""
        if Order.objects.filter(buyer__slug__in=["smartmobility", "hanbit-research"]).exists():
            return
        this_month = statement_selectors.month_of(timezone.now())
        months = [this_month]
        for _i in range(3):
            months.insert(0, statement_selectors.previous_month(months[0]))
        sales = [  # (months ago, buyer e-mail, buyer slug, dataset slug)
            (3, "buyer@smartmobility.example", "smartmobility", "siheung-smart-poles"),
            (2, "buyer@hanbit.example", "hanbit-research", "siheung-pm-forecast"),
            (2, "buyer@smartmobility.example", "smartmobility", "siheung-pm-forecast"),
            (1, "buyer@hanbit.example", "hanbit-research", "siheung-smart-poles"),
        ]
        for ago, email, slug, dataset in sales:
            offer = (
                Offer.objects.filter(dataset__slug=dataset, active=True, buyer__isnull=True, price_krw__gt=0)
                .order_by("price_krw")
                .first()
            )
            if offer is None:
                continue
            month = months[3 - ago]
            with _clock(datetime(month.year, month.month, 12, 14, 0, tzinfo=ZoneInfo("Asia/Seoul"))):
                buyer, company = people[email], Organization.objects.get(slug=slug)
                cart_add(actor=buyer, organization=company, offer=offer)
                lines = tx_selectors.cart_lines(tx_selectors.cart_get(buyer, company), company)
                order = checkout_place(
                    actor=buyer,
                    organization=company,
                    checkout_token=uuid.uuid4(),
                    method="bank_transfer",
                    billing=billing_defaults(company),
                    accepted={line.offer.pk: line.licence_sha256 for line in lines},
                )
                payment = bank_transfer_start(actor=buyer, order=order)
                bank_transfer_confirm(
                    actor=admin, payment=payment, depositor_name=company.name_ko, amount_krw=payment.amount_krw
                )
        # Each month closes on the 1st of the next; the first one is paid on the 5th, the others wait for the admin.
        for i, month in enumerate(months[:3]):
            after = months[i + 1]
            with _clock(datetime(after.year, after.month, 1, 10, 0, tzinfo=ZoneInfo("Asia/Seoul"))):
                made = statement_services.statements_close_month(month=month, actor=admin)
            if i == 0:
                with _clock(datetime(after.year, after.month, 5, 15, 0, tzinfo=ZoneInfo("Asia/Seoul"))):
                    for statement in made:
                        statement_services.statement_mark_paid(
                            statement=statement, transfer_reference="데모-이체-0001", actor=admin
                        )

    def _load_datasets(self, admin) -> int:
        """The demo datasets, through the real services: describe, upload, check, submit, approve."""

        def upload_and_check(actor, version, name, data):
            upload = catalog_services.upload_create(actor=actor, version=version, filename=name, length=len(data))
            catalog_services.upload_append(actor=actor, upload=upload, offset=0, stream=io.BytesIO(data))
            # Checks run here, in-process, with the worker's code: approval needs their results now.
            for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
                datafile_check_task.apply(args=[datafile.pk])
            version.refresh_from_db()
            return version

        def justification(version):
            return "가명처리 및 공개 범위 검토 완료" if version.files.filter(check_state="warning").exists() else ""

        created = 0
        for spec in demo.DATASETS:
            slug, org_slug = spec[0], spec[1]
            if Dataset.objects.filter(slug=slug).exists():
                continue
            organization = Organization.objects.get(slug=org_slug)
            owner = (
                Membership.objects.filter(organization=organization, role="owner").select_related("user").first().user
            )
            version = catalog_services.dataset_create(
                actor=owner, organization=organization, **demo.metadata(spec, organization)
            )
            Dataset.objects.filter(pk=version.dataset_id).update(slug=slug)
            version.refresh_from_db()
            name, data = demo.build_file(spec, demo.seeded(slug))
            version = upload_and_check(owner, version, name, data)
            if slug in demo.DICTIONARIES:
                for datafile in version.files.filter(table_schema__isnull=False):
                    catalog_services.datafile_dictionary_update(
                        actor=owner, datafile=datafile, entries=demo.DICTIONARIES[slug]
                    )
            for offer in demo.offers(spec):
                catalog_services.offer_create(actor=owner, dataset=version.dataset, **offer)
            catalog_services.version_submit(actor=owner, version=version, pii_justification=justification(version))
            created += 1
            if slug == demo.WAITING_FOR_REVIEW:
                continue  # left in the review queue
            catalog_services.version_approve(actor=admin, version=version, reason="데모 데이터: 검토 완료")
            if slug == demo.SECOND_VERSION:
                second = catalog_services.version_start_new(
                    actor=owner, dataset=version.dataset, change_note="배곧동 측정소를 추가했습니다."
                )
                name, data = demo.build_file(spec, demo.seeded(slug, 2), extra_place="배곧동")
                second = upload_and_check(owner, second, name, data)
                catalog_services.version_submit(actor=owner, version=second, pii_justification=justification(second))
                catalog_services.version_approve(actor=admin, version=second, reason="데모 데이터: 측정소 추가 확인")
        return created


@contextlib.contextmanager
def _clock(moment: datetime):
    """Set the clock back for the demo's past sales: django.utils.timezone.now, and the model fields whose default
    is that function (their default was captured when the models loaded)."""
    original = timezone.now
    fake = lambda: moment  # noqa: E731
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(timezone, "now", fake))
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if getattr(field, "default", None) is original:
                    stack.enter_context(mock.patch.object(field, "_get_default", fake))
        yield
