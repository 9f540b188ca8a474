"""Reference data loaded by migration: the 16 classes of the 공공데이터 분류체계 and the standard licences.

Sources: shared/reference/korea.md §3 (공공누리, CC) and §4 (data.go.kr classes, in portal order).
"""

from catalog.models import Licence, Theme

THEMES = [
    ("education", "교육", "Education"),
    ("land", "국토관리", "Land management"),
    ("administration", "공공행정", "Public administration"),
    ("finance", "재정금융", "Public finance"),
    ("industry", "산업고용", "Industry and employment"),
    ("welfare", "사회복지", "Social welfare"),
    ("food-health", "식품건강", "Food and health"),
    ("culture-tourism", "문화관광", "Culture and tourism"),
    ("healthcare", "보건의료", "Health care"),
    ("safety", "재난안전", "Disaster and safety"),
    ("transport", "교통물류", "Transport and logistics"),
    ("environment", "환경기상", "Environment and weather"),
    ("science", "과학기술", "Science and technology"),
    ("agriculture", "농축수산", "Agriculture and fisheries"),
    ("unification", "통일외교안보", "Unification, diplomacy and security"),
    ("law", "법률", "Law"),
]

_KOGL_ATTRIBUTION_KO = (
    "이용자는 출처를 표시해야 합니다. 출처 표시 예: “본 저작물은 '{기관명}'에서 '{연도}' 작성하여 공공누리 제{n}유형으로 "
    "개방한 '{저작물명}'을 이용하였으며, 해당 저작물은 '{기관명}'에서 무료로 다운받으실 수 있습니다.” "
    "온라인에서 이용할 때에는 출처 사이트로 링크를 걸어야 합니다. 이용자는 공공기관이 이용자를 후원하거나 이용자와 특수한 관계에 "
    "있는 것처럼 표시해서는 안 됩니다."
)
_KOGL_ATTRIBUTION_EN = (
    "You must indicate the source, e.g. “This work uses '{title}', created by '{organization}' in '{year}' and released "
    "under KOGL Type {n}; it can be downloaded free of charge from '{organization}'.” Online, link to the source site. "
    "You must not suggest that the public body endorses you or has a special relationship with you."
)

# (code, family, name_ko, name_en, summary_ko, summary_en, extra_ko, extra_en, url, commercial, derivatives)
LICENCES = [
    (
        "kogl-1",
        "kogl",
        "공공누리 제1유형: 출처표시",
        "KOGL Type 1: Source Indication",
        "출처를 표시하면 상업적 이용과 변경(2차적 저작물 작성)을 포함해 자유롭게 이용할 수 있습니다.",
        "Free use, including commercial use and modification, with the source indicated.",
        "",
        "",
        "https://www.kogl.or.kr/info/licenseType1.do",
        True,
        True,
    ),
    (
        "kogl-2",
        "kogl",
        "공공누리 제2유형: 출처표시+상업적 이용금지",
        "KOGL Type 2: Source Indication + Commercial Use Prohibition",
        "출처를 표시하고 비상업적으로만 이용할 수 있습니다. 변경은 허용됩니다.",
        "Non-commercial use only, with the source indicated. Modification is allowed.",
        "상업적 이용은 별도의 허락을 받아야 합니다.",
        "Commercial use needs separate permission.",
        "https://www.kogl.or.kr/info/licenseType2.do",
        False,
        True,
    ),
    (
        "kogl-3",
        "kogl",
        "공공누리 제3유형: 출처표시+변경금지",
        "KOGL Type 3: Source Indication + Change Prohibition",
        "출처를 표시하면 상업적으로도 이용할 수 있으나, 내용을 변경하거나 2차적 저작물을 작성할 수 없습니다.",
        "Commercial use is allowed with the source indicated, but the work must not be modified or used to make derivatives.",
        "",
        "",
        "https://www.kogl.or.kr/info/licenseType3.do",
        True,
        False,
    ),
    (
        "kogl-4",
        "kogl",
        "공공누리 제4유형: 출처표시+상업적 이용금지+변경금지",
        "KOGL Type 4: Source Indication + Commercial Use Prohibition + Change Prohibition",
        "출처를 표시하고 비상업적으로만, 변경 없이 이용할 수 있습니다.",
        "Non-commercial use only, without modification, with the source indicated.",
        "상업적 이용은 별도의 허락을 받아야 합니다.",
        "Commercial use needs separate permission.",
        "https://www.kogl.or.kr/info/licenseType4.do",
        False,
        False,
    ),
    (
        "cc-by-4.0",
        "cc",
        "CC BY 4.0 저작자표시",
        "CC BY 4.0 Attribution",
        "저작자를 표시하면 상업적 이용과 변경을 포함해 자유롭게 이용할 수 있습니다.",
        "Free use, including commercial use and adaptation, with attribution.",
        "",
        "",
        "https://creativecommons.org/licenses/by/4.0/deed.ko",
        True,
        True,
    ),
    (
        "cc-by-sa-4.0",
        "cc",
        "CC BY-SA 4.0 저작자표시-동일조건변경허락",
        "CC BY-SA 4.0 Attribution-ShareAlike",
        "저작자를 표시하고, 변경한 저작물은 같은 조건으로 공개해야 합니다. 상업적 이용이 가능합니다.",
        "Attribution; adaptations must be shared under the same licence. Commercial use is allowed.",
        "",
        "",
        "https://creativecommons.org/licenses/by-sa/4.0/deed.ko",
        True,
        True,
    ),
    (
        "cc-by-nc-4.0",
        "cc",
        "CC BY-NC 4.0 저작자표시-비영리",
        "CC BY-NC 4.0 Attribution-NonCommercial",
        "저작자를 표시하고 비영리 목적으로만 이용할 수 있습니다. 변경은 허용됩니다.",
        "Attribution; non-commercial use only. Adaptation is allowed.",
        "",
        "",
        "https://creativecommons.org/licenses/by-nc/4.0/deed.ko",
        False,
        True,
    ),
    (
        "cc-by-nd-4.0",
        "cc",
        "CC BY-ND 4.0 저작자표시-변경금지",
        "CC BY-ND 4.0 Attribution-NoDerivatives",
        "저작자를 표시하면 상업적으로 이용할 수 있으나, 변경한 저작물은 배포할 수 없습니다.",
        "Attribution; commercial use allowed; adapted material must not be shared.",
        "",
        "",
        "https://creativecommons.org/licenses/by-nd/4.0/deed.ko",
        True,
        False,
    ),
    (
        "cc0-1.0",
        "cc",
        "CC0 1.0 퍼블릭 도메인",
        "CC0 1.0 Public Domain Dedication",
        "저작권을 포기한 자료로, 조건 없이 자유롭게 이용할 수 있습니다.",
        "No rights reserved: use freely without conditions.",
        "",
        "",
        "https://creativecommons.org/publicdomain/zero/1.0/deed.ko",
        True,
        True,
    ),
]


def licence_texts(code, summary_ko, summary_en, extra_ko, extra_en, url):
    """The full text shown and packaged with the data: conditions, attribution rule and the official source."""
    n = code.split("-")[1] if code.startswith("kogl") else ""
    if code.startswith("kogl"):
        text_ko = f"{summary_ko}\n\n{_KOGL_ATTRIBUTION_KO.replace('{n}', n)}\n\n{extra_ko}\n\n전문: {url}".replace(
            "\n\n\n\n", "\n\n"
        )
        text_en = (
            f"{summary_en}\n\n{_KOGL_ATTRIBUTION_EN.replace('{n}', n)}\n\n{extra_en}\n\nFull terms: {url}".replace(
                "\n\n\n\n", "\n\n"
            )
        )
    else:
        text_ko = f"{summary_ko}\n\n이용허락 조건 전문(법적 효력이 있는 원문): {url.replace('deed.ko', 'legalcode.ko')}"
        text_en = f"{summary_en}\n\nLegal code: {url.replace('deed.ko', 'legalcode.en')}"
    return text_ko.strip(), text_en.strip()


def ensure_reference_data(theme_model=None, licence_model=None) -> None:
    """Create or update the themes and standard licences (idempotent; used by migration 0002 too)."""
    if theme_model is None:
        theme_model, licence_model = Theme, Licence
    for position, (code, name_ko, name_en) in enumerate(THEMES):
        theme_model.objects.update_or_create(
            code=code, defaults={"name_ko": name_ko, "name_en": name_en, "position": position}
        )
    for position, row in enumerate(LICENCES):
        code, family, name_ko, name_en, summary_ko, summary_en, extra_ko, extra_en, url, commercial, derivatives = row
        text_ko, text_en = licence_texts(code, summary_ko, summary_en, extra_ko, extra_en, url)
        licence_model.objects.update_or_create(
            code=code,
            defaults=dict(
                family=family,
                name_ko=name_ko,
                name_en=name_en,
                summary_ko=summary_ko,
                summary_en=summary_en,
                text_ko=text_ko,
                text_en=text_en,
                url=url,
                allows_commercial_use=commercial,
                allows_derivatives=derivatives,
                position=position,
            ),
        )
