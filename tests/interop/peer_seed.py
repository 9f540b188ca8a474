"""Seed a second instance of the portal for tests/interop/test_harvest_peer.py: run as
`python -m tests.interop.peer_seed` with DATABASE_URL naming the peer's (migrated) database. Three datasets are
published through the real services (describe, upload, check, offer, submit, approve) and one stays a draft; it
prints their slugs as JSON."""

import io
import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django.setup()

from catalog import services  # noqa: E402
from catalog.models import DataFile, Licence, Theme  # noqa: E402
from catalog.reference_data import ensure_reference_data  # noqa: E402
from catalog.tasks import datafile_check_task  # noqa: E402
from tests.conftest import make_org, make_user  # noqa: E402

DATASETS = [
    (
        "부천시 미세먼지 측정 자료",
        "Bucheon fine dust",
        "environment",
        "kogl-1",
        "미세먼지, 대기질",
        "측정소,PM10\n중동,40\n상동,35\n",
    ),
    (
        "부천시 공영주차장 현황",
        "Bucheon car parks",
        "transport",
        "cc-by-4.0",
        "주차장, 교통",
        "주차장,면수\n중앙,120\n송내,80\n",
    ),
    ("부천시 공공도서관 목록", "", "education", "kogl-3", "도서관", "도서관,주소\n상동도서관,상동\n"),
]


def publish(official, admin, title_ko, title_en, theme, licence, tags, csv, *, submit=True):
    version = services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko=title_ko,
        title_en=title_en,
        description_ko=f"{title_ko}입니다. 부천시가 공개하는 공공데이터입니다.",
        theme=Theme.objects.get(code=theme),
        tags=tags,
        contact_name="이도윤",
        contact_phone="032-625-2114",
        contact_email=official.email,
        update_cadence="monthly",
        spatial_area="경기도 부천시",
        data_kind="public",
        licence=Licence.objects.get(code=licence),
    )
    data = csv.encode()
    upload = services.upload_create(actor=official, version=version, filename="자료.csv", length=len(data))
    services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(data))
    for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
        datafile_check_task.apply(args=[datafile.pk])
    services.offer_create(actor=official, dataset=version.dataset, kind="free")
    if submit:
        services.version_submit(actor=official, version=version)
        services.version_approve(actor=admin, version=version)
    return version.dataset.slug


def main():
    ensure_reference_data()
    admin = make_user("admin@bucheon.test", staff=True)
    official = make_user("official@bucheon.test", name="이도윤")
    make_org(official, name_ko="부천시 환경정책과", name_en="Bucheon Environment", kind="provider", brn="1348310008")
    published = [publish(official, admin, *spec) for spec in DATASETS]
    draft = publish(official, admin, "부천시 비공개 초안", "", "safety", "kogl-1", "초안", "a,b\n1,2\n", submit=False)
    print(json.dumps({"published": published, "draft": draft}, ensure_ascii=False))


if __name__ == "__main__":
    main()
