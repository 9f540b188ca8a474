"""Issue 13: a column NAME that looks like a formula gets an apostrophe in the package's Excel copy (a
spreadsheet shows it: LibreOffice 7.4 keeps "'=x" as the text 'x with its apostrophe, and runs a quoted
"=x"), so the copy's resource in datapackage.json declares its own Table Schema with the names as the
copy writes them; `frictionless validate` passes on every resource, the Excel copy included."""

import json
import zipfile

import pytest
from django.core.files import storage

from catalog.models import DataFile
from tests.transactions.conftest import offer_of, place_order
from tests.transactions.test_packaging import publish_files
from transactions.models import Package
from transactions.tasks import build_package

BOM = b"\xef\xbb\xbf"


def _build(order) -> Package:
    package = Package.objects.get(entitlement__order_item__order=order)
    build_package.apply(args=[package.pk])
    package.refresh_from_db()
    assert package.state == Package.State.READY, package.error
    return package


HEADER_FORMULAS = "=합계,-기온,이름\n10,-3.2,가\n20,1.5,=나\n".encode()


@pytest.mark.django_db
def test_an_excel_copy_whose_column_names_look_like_formulas_matches_its_own_schema(
    official, buyer, admin_user, reference_data, parked_package_builds, tmp_path
):
    version = publish_files(official, admin_user, [("머리글.csv", HEADER_FORMULAS)])
    datafile = DataFile.objects.get(version=version)
    assert [f["name"] for f in datafile.table_schema["fields"]] == ["=합계", "-기온", "이름"]
    package = _build(place_order(buyer, offer_of(version.dataset, "free"), method="free"))
    with zipfile.ZipFile(storage.default_storage.path(package.file.name)) as zf:
        zf.extractall(tmp_path)
    copy = (tmp_path / "data/excel/머리글.csv").read_bytes()
    # A spreadsheet shows the apostrophe of a CSV cell (LibreOffice keeps "'=x" as the text 'x; a quoted
    # "=x" would still be run): the header names the columns as the copy writes them, and so does its schema.
    assert copy == BOM + "'=합계,'-기온,이름\n10,-3.2,가\n20,1.5,'=나\n".encode()
    descriptor = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["path"]: r for r in descriptor["resources"]}
    assert [f["name"] for f in resources["data/머리글.csv"]["schema"]["fields"]] == ["=합계", "-기온", "이름"]
    excel = resources["data/excel/머리글.csv"]
    assert [f["name"] for f in excel["schema"]["fields"]] == ["'=합계", "'-기온", "이름"]
    assert [f["type"] for f in excel["schema"]["fields"]][:2] == ["integer", "number"]  # -3.2 is still a number
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "머리글에도 작은따옴표가 붙고" in readme and "has the apostrophe in the header too" in readme

    # What a buyer runs: every resource, the Excel copy included, against its schema (header labels too).
    from frictionless import Package as DataPackage

    report = DataPackage(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["taskNumber", "rowNumber", "fieldName", "type", "note"])
