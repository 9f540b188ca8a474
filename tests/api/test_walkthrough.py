"""docs/api.md's two "10분 따라하기" walkthroughs, run as written against a real server and a real worker, joined
into the journey of the issue: a department publishes a CP949 file by API, an admin approves it by API, a company
finds it, takes it free and verifies the package (the company walkthrough), then buys the paid offer the
department added with the simulated card, polls the package and verifies it too."""

import hashlib
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.api.test_buyer import pg  # noqa: F401  (the simulated PG on the live server)
from tests.conftest import make_org, make_user
from tests.transactions.conftest import wait_for_download_records
from tests.transactions.test_payments import approve_at_pg

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROWS = ["측정소명,측정일시,미세먼지"] + [f"정왕동,2026-11-{day:02d} 10:00,{20 + day}" for day in range(1, 29)]


def python_block(heading: str) -> str:
    """The first ```python block of the section with this heading (up to the next `## ` heading)."""
    section = DOC.read_text(encoding="utf-8").split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def run(code: str, monkeypatch, **env) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace: dict = {"__name__": "__walkthrough__"}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - the documentation's own code, on purpose
    return namespace


@pytest.mark.django_db(transaction=True)
def test_the_documented_walkthroughs_publish_approve_find_buy_and_verify(
    celery_worker,
    pg,
    official,
    buyer,
    admin_user,
    reference_data,
    make_key,
    tmp_path,
    monkeypatch,  # noqa: F811
):
    monkeypatch.chdir(tmp_path)
    Path("정왕동_미세먼지.csv").write_bytes(("\r\n".join(ROWS) + "\r\n").encode("cp949"))
    base = pg.url

    # The department's walkthrough: create, upload the CP949 file, wait for the checks, licence, free offer, submit.
    department = run(
        python_block("10분 따라하기: 부서 담당자"),
        monkeypatch,
        SDX_BASE=base,
        SDX_PUBLISH_KEY=make_key(official, scopes=["read", "publish"], name="부서 시스템"),
    )
    assert department["file"]["encoding"] == "cp949" and department["file"]["row_count"] == 28
    assert department["submitted"].json()["state"] == "submitted"
    version_id, slug = department["version_id"], department["dataset"]["slug"]

    # The department also sells a cost-recovery copy (공공데이터: the basis is stated).
    publisher = httpx.Client(
        base_url=base, headers={"Authorization": f"Token {department['api'].headers['Authorization'][6:]}"}, timeout=30
    )
    paid = publisher.post(
        f"/api/v1/provider/versions/{version_id}/offers/",
        json={"kind": "one_off", "price_krw": 20_000, "cost_basis": "파일 가공·전송 비용 (건당)"},
    )
    assert paid.status_code == 201, paid.text

    # The platform admin approves by API.
    admin_key = make_key(admin_user, scopes=["read", "admin"], organization=None, name="심사 봇")
    with httpx.Client(base_url=base, headers={"Authorization": f"Token {admin_key}"}, timeout=30) as admin:
        queue = admin.get("/api/v1/admin/reviews/").json()
        assert [row["id"] for row in queue["results"]] == [version_id]
        approved = admin.post(f"/api/v1/admin/reviews/{version_id}/approve/", json={"reason": "검토 완료"})
        assert approved.status_code == 200, approved.text

    # The company's walkthrough: it finds the dataset by a Korean word, takes it free and verifies the package.
    buyer_key = make_key(buyer, scopes=["read", "buy"], name="분석 파이프라인")
    company = run(python_block("10분 따라하기: 기업 개발자"), monkeypatch, SDX_BASE=base, SDX_KEY=buyer_key)
    assert company["slug"] == slug and company["found"]["count"] == 1
    assert company["package"]["state"] == "ready"
    assert any(name.startswith("data/") for name in company["package"]["manifest"])

    # A second company buys the paid copy with the simulated card (the first already holds this version), polls the
    # package and verifies it as documented.
    owner = make_user("owner@second.test", name="박서연")
    make_org(owner, name_ko="(주)두번째분석", name_en="Second Analytics", kind="consumer", brn="2208162517")
    second_key = make_key(owner, scopes=["read", "buy"], name="야간 배치")
    api = httpx.Client(base_url=base, headers={"Authorization": f"Token {second_key}"}, timeout=30)
    offer_id = paid.json()["id"]
    line = api.post("/api/v1/cart/items/", json={"offer": offer_id}).raise_for_status().json()["lines"][0]
    assert (line["supply_krw"], line["vat_krw"], line["total_krw"]) == (20_000, 2_000, 22_000)
    licence = api.get(line["licence_text_url"]).json()
    placed = api.post(
        "/api/v1/checkout/",
        json={
            "checkout_token": str(uuid.uuid4()),
            "method": "card",
            "accepted_licences": {str(offer_id): licence["sha256"]},
        },
    )
    assert placed.status_code == 201, placed.text
    number = placed.json()["order"]["number"]
    location, _back = approve_at_pg(placed.json()["redirect_url"])
    assert httpx.get(location, timeout=30).status_code == 302  # the PG sends the browser back; the portal confirms
    order = api.get(f"/api/v1/orders/{number}/").json()
    assert order["state"] in ("paid", "fulfilled")
    (package_id,) = [p["id"] for p in order["packages"]]
    deadline = time.monotonic() + 90
    while (package := api.get(f"/api/v1/packages/{package_id}/").json())["state"] != "ready":
        assert package["state"] in ("queued", "building") and time.monotonic() < deadline, package
        time.sleep(0.5)
    url = api.post(f"/api/v1/packages/{package_id}/download-link/").json()["url"]
    Path("paid.zip").write_bytes(httpx.get(url, timeout=60).content)
    wait_for_download_records()  # both downloads (the walkthrough's and this one) recorded before the flush
    assert hashlib.sha256(Path("paid.zip").read_bytes()).hexdigest() == package["sha256"]
    with zipfile.ZipFile("paid.zip") as zf:
        for row in zf.read("MANIFEST-SHA256").decode().splitlines():
            sha, _sep, path = row.partition("  ")
            assert hashlib.sha256(zf.read(path)).hexdigest() == sha, path
        # The file as uploaded, byte for byte (CP949), beside its UTF-8 and Excel copies.
        assert zf.read("data/정왕동_미세먼지.csv") == Path("정왕동_미세먼지.csv").read_bytes()
