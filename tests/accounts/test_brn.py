import pytest
from django.core.exceptions import ValidationError

from accounts import brn

VALID = ["116-82-00276", "134-86-72683", "211-86-08983", "104-86-56659", "104-82-13138"]
# Well-formed numbers whose check digit does not match (the last three exist in the real world).
BAD_CHECKSUM = ["123-45-67890", "116-82-00278", "206-18-12345", "306-82-00417", "728-86-00316"]


@pytest.mark.parametrize("number", VALID)
def test_valid_numbers_pass_the_checksum(number):
    assert brn.checksum_ok(brn.normalize(number))


@pytest.mark.parametrize("number", BAD_CHECKSUM)
def test_checksum_failures_are_reported_not_refused(number):
    digits = brn.normalize(number)  # no exception: the format is fine
    assert digits.isdigit() and len(digits) == 10
    assert brn.checksum_ok(digits) is False


def test_ninth_digit_special_case_matters():
    """116-82-00276 is valid only because floor(7*5/10) = 3 is added for the ninth digit."""
    d = [int(c) for c in "1168200276"]
    plain = sum(w * x for w, x in zip((1, 3, 7, 1, 3, 7, 1, 3, 5), d[:9]))
    assert (10 - plain % 10) % 10 != d[9]
    assert brn.checksum_ok("1168200276")


@pytest.mark.parametrize(
    "value, code",
    [
        ("", "brn_format"),
        ("116-82-0027a", "brn_format"),
        ("116.82.00276", "brn_format"),
        ("116-82-0027", "brn_length"),
        ("116-82-002761", "brn_length"),
        ("000-82-00276", "brn_component"),  # prefix below 101 is never issued
        ("116-00-00276", "brn_component"),  # middle 00 is never issued
    ],
)
def test_format_errors_are_refused_with_a_code(value, code):
    with pytest.raises(ValidationError) as exc:
        brn.normalize(value)
    assert exc.value.code == code


def test_format_error_message_is_korean_by_default():
    with pytest.raises(ValidationError) as exc:
        brn.normalize("12-34")
    assert "10자리" in exc.value.messages[0]


def test_spaces_and_hyphens_are_accepted():
    assert brn.normalize(" 116 82 00276 ") == "1168200276"
    assert brn.format_brn("1168200276") == "116-82-00276"
