import pytest

from catalog import services
from catalog.models import Theme


@pytest.fixture
def draft(official, reference_data):
    """A draft dataset version of the official's department."""
    return services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="시흥시 대기질 측정 자료",
        title_en="Siheung air quality measurements",
        description_ko="정왕동 측정소의 시간별 미세먼지 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지, 대기질",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email="official@siheung.test",
        update_cadence="monthly",
        data_kind="public",
    )
