"""The Table Schema a package ships is valid for Data Package v1 readers (frictionless 5), whatever the
checks stored (Table Schema v2 puts groupChar on integers, as the checks now type "12,345")."""

from frictionless import Resource, Schema

from transactions.delivery import packaging


def test_a_grouped_integer_column_validates_in_the_shipped_schema(tmp_path):
    stored = {"fields": [{"name": "인구", "type": "integer", "groupChar": ","}, {"name": "구", "type": "string"}]}
    shipped = packaging._schema(stored)
    assert shipped["fields"][0] == {"name": "인구", "type": "number", "groupChar": ","}
    data = tmp_path / "인구.csv"
    data.write_text('인구,구\n"12,345",정왕동\n"1,234,567",배곧동\n', encoding="utf-8")
    # A relative path inside basepath, as in an unzipped package (frictionless refuses absolute ones).
    report = Resource(path=data.name, basepath=str(tmp_path), schema=Schema.from_descriptor(shipped)).validate()
    assert report.valid, report.flatten(["type", "note"])
    # As stored, v1 readers refuse it: the conversion is what makes the package valid.
    stored_schema = Schema.from_descriptor(stored)
    assert not Resource(path=data.name, basepath=str(tmp_path), schema=stored_schema).validate().valid


def test_codes_that_do_not_fit_the_field_type_stay_a_plain_list():
    """Table Schema v2 `categories` are for string and integer fields, valued as the field's type."""
    codes = [{"code": "A", "label_ko": "가", "label_en": ""}, {"code": "B", "label_ko": "나", "label_en": ""}]
    stored = {"fields": [{"name": "등급", "type": "integer"}, {"name": "값", "type": "number"}]}
    shipped = packaging._schema(stored, {"등급": {"codes": codes, "unit": "등급"}, "값": {"codes": codes}})
    assert "categories" not in shipped["fields"][0] and shipped["fields"][0]["codes"] == codes
    assert shipped["fields"][0]["unit"] == "등급"
    assert "categories" not in shipped["fields"][1] and shipped["fields"][1]["codes"] == codes
    Schema.from_descriptor(shipped)  # still a valid Table Schema
