"""Demo datasets of the two pilot cities, generated (not copied): real CSV (UTF-8 and CP949), XLSX and
GeoJSON files with plausible Korean columns and values, taken through the real services: describe,
upload, automatic checks, submit and approve. One dataset gets a second version, one waits in the
review queue. Deterministic (seeded), so a second run produces the same data.
"""

import csv
import io
import json
import math
import random
from datetime import datetime, timedelta

from django.utils import timezone
from openpyxl import Workbook

from catalog.live import services as live_services
from catalog.live.models import LiveTable
from catalog.live.schema import KST
from catalog.models import Dataset, Licence, Theme

SIHEUNG_DONG = ["정왕동", "대야동", "신천동", "목감동", "배곧동", "거모동", "은행동", "능곡동"]
DAEGU_GU = ["중구", "동구", "서구", "남구", "북구", "수성구", "달서구", "달성군"]
SIHEUNG_BBOX = (126.72, 37.33, 126.86, 37.46)
DAEGU_BBOX = (128.47, 35.80, 128.70, 35.95)


def _csv(header, rows, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if encoding == "cp949" else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _xlsx(header, rows) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("데이터")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _geojson(features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode("utf-8")


def _hours(rng, days=14):
    start = datetime(2024, 6, 1)
    return [start + timedelta(hours=h) for h in range(24 * days)]


def air_quality(rng, places, days=14):
    rows = []
    for when in _hours(rng, days):
        for place in places:
            pm10 = max(3, int(rng.gauss(42, 18)))
            rows.append(
                [
                    f"{place} 측정소",
                    when.strftime("%Y-%m-%d %H:%M"),
                    pm10,
                    max(1, int(pm10 * rng.uniform(0.4, 0.7))),
                    round(rng.uniform(0.01, 0.09), 3),
                    round(rng.uniform(0.005, 0.05), 3),
                ]
            )
    return ["측정소명", "측정일시", "미세먼지(㎍/㎥)", "초미세먼지(㎍/㎥)", "오존(ppm)", "이산화질소(ppm)"], rows


def sensor_series(columns):
    """Hourly readings per place: columns = [(name, mean, sd, decimals)]."""

    def generate(rng, places, days=14):
        rows = []
        for when in _hours(rng, days):
            for place in places:
                values = [
                    round(rng.gauss(mean, sd), d) if d else max(0, int(rng.gauss(mean, sd)))
                    for _n, mean, sd, d in columns
                ]
                rows.append([place, when.strftime("%Y-%m-%d %H:%M"), *values])
        return ["지점명", "측정일시", *[c[0] for c in columns]], rows

    return generate


def monthly_use(unit, entity="건물명", value="사용량", suffixes=("행정복지센터",), mean=900, sd=300):
    """Monthly figures per place: e.g. electricity per building, complaints per district."""

    def generate(rng, places, days=None):
        names = [f"{p} {suffix}".strip() for p in places for suffix in suffixes]
        rows = []
        for year in (2023, 2024):
            for month in range(1, 13):
                for name in names:
                    rows.append([name, year, month, max(0, int(rng.gauss(mean, sd)))])
        return [entity, "연도", "월", f"{value}({unit})"], rows

    return generate


def points(kind_names, extra):
    """Point facilities: kind_names = list of names; extra = [(column, chooser(rng))]."""

    def generate(rng, places, bbox):
        features = []
        for i in range(rng.randint(40, 90)):
            lon = round(rng.uniform(bbox[0], bbox[2]), 6)
            lat = round(rng.uniform(bbox[1], bbox[3]), 6)
            place = rng.choice(places)
            props = {"시설명": f"{place} {rng.choice(kind_names)} {i + 1}", "소재지": place}
            for column, chooser in extra:
                props[column] = chooser(rng)
            features.append(
                {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [lon, lat]}}
            )
        return features

    return generate


def traffic(rng, places, days=7):
    rows = []
    for when in _hours(rng, days):
        for i, place in enumerate(places):
            volume = int(abs(rng.gauss(900 if 7 <= when.hour <= 20 else 250, 120)))
            rows.append(
                [
                    f"LINK-{1000 + i}",
                    f"{place} 간선도로",
                    when.strftime("%Y-%m-%d %H:%M"),
                    volume,
                    round(max(8, rng.gauss(38, 9)), 1),
                ]
            )
    return ["링크ID", "도로명", "집계일시", "교통량(대)", "평균속도(km/h)"], rows


def parking(rng, places, days=7):
    rows = []
    for when in _hours(rng, days):
        for place in places:
            capacity = 120 + (hash(place) % 5) * 40
            rows.append(
                [
                    f"{place} 공영주차장",
                    capacity,
                    min(capacity, int(abs(rng.gauss(capacity * 0.7, 25)))),
                    when.strftime("%Y-%m-%d %H:%M"),
                ]
            )
    return ["주차장명", "주차면수", "주차대수", "기준일시"], rows


def bus_arrivals(rng, places, days=2):
    rows = []
    for when in _hours(rng, days):
        for place in places:
            for route in ("101", "349", "급행3"):
                rows.append(
                    [f"{place} 정류장", route, when.strftime("%Y-%m-%d %H:%M"), rng.randint(1, 25), rng.randint(0, 12)]
                )
    return ["정류장명", "노선번호", "조회일시", "도착예정(분)", "남은정류장수"], rows


def _choice(values):
    return lambda rng: rng.choice(values)


# (slug, owner org slug, title_ko, title_en, theme, cadence, tags, description, generator, file kind, encoding, licence, kind)
# The data dictionary the publisher writes for a demo dataset (catalog.dictionary), by column; the second
# version of a dataset inherits it (catalog.services.datafile_dictionary_inherit).
DICTIONARIES = {
    "siheung-air-live": {
        "측정소": {"description_ko": "센서가 있는 동", "description_en": "The sensor's 동"},
        "측정일시": {"description_ko": "측정 시각(한국 표준시)", "description_en": "When measured (KST)"},
        "PM10(㎍/㎥)": {
            "description_ko": "미세먼지(PM10) 농도",
            "description_en": "PM10 concentration",
            "unit": "㎍/㎥",
        },
        "PM2.5(㎍/㎥)": {
            "description_ko": "초미세먼지(PM2.5) 농도",
            "description_en": "PM2.5 concentration",
            "unit": "㎍/㎥",
        },
        "O3(ppm)": {"description_ko": "오존 농도", "description_en": "Ozone", "unit": "ppm"},
        "NO2(ppm)": {"description_ko": "이산화질소 농도", "description_en": "Nitrogen dioxide", "unit": "ppm"},
        "CO(ppm)": {"description_ko": "일산화탄소 농도", "description_en": "Carbon monoxide", "unit": "ppm"},
        "SO2(ppm)": {"description_ko": "아황산가스 농도", "description_en": "Sulphur dioxide", "unit": "ppm"},
    },
    "siheung-air-quality": {
        "측정소명": {
            "description_ko": "측정소가 있는 동 이름과 '측정소'",
            "description_en": "The station's 동 and 'station'",
        },
        "측정일시": {
            "description_ko": "측정 시각(한국 표준시, 1시간 평균의 끝 시각)",
            "description_en": "When measured (KST; the end of the hourly average)",
        },
        "미세먼지(㎍/㎥)": {
            "description_ko": "미세먼지(PM10) 1시간 평균 농도",
            "description_en": "Hourly mean PM10 concentration",
            "unit": "㎍/㎥",
        },
        "초미세먼지(㎍/㎥)": {
            "description_ko": "초미세먼지(PM2.5) 1시간 평균 농도",
            "description_en": "Hourly mean PM2.5 concentration",
            "unit": "㎍/㎥",
        },
        "오존(ppm)": {"description_ko": "오존 1시간 평균 농도", "description_en": "Hourly mean ozone", "unit": "ppm"},
        "이산화질소(ppm)": {
            "description_ko": "이산화질소 1시간 평균 농도",
            "description_en": "Hourly mean nitrogen dioxide",
            "unit": "ppm",
        },
    },
}


# --- The live air-quality feed (issue 16) ---------------------------------------------------------------------
LIVE_SLUG = "siheung-air-live"
LIVE_COLUMNS = ["측정소", "측정일시", "PM10(㎍/㎥)", "PM2.5(㎍/㎥)", "O3(ppm)", "NO2(ppm)", "CO(ppm)", "SO2(ppm)"]
# Each demo sensor's level: the industrial complex (정왕동) dustier, the coast (배곧동) cleaner.
LIVE_SENSORS = {"정왕동": 1.25, "대야동": 1.0, "신천동": 1.05, "목감동": 0.9, "배곧동": 0.85}


def air_reading(rng, place: str, when: datetime) -> list:
    """One plausible reading of a sensor at `when` (KST): particulates peak in the morning and evening rush,
    ozone in the afternoon sun, NO2 and CO with the traffic."""
    level = LIVE_SENSORS.get(place, 1.0)
    hour = when.hour + when.minute / 60
    rush = math.exp(-(((hour - 8) / 2.2) ** 2)) + 0.8 * math.exp(-(((hour - 19) / 2.5) ** 2))
    sun = max(0.0, math.sin(math.pi * (hour - 7) / 12)) if 7 <= hour <= 19 else 0.0
    pm10 = max(4, round(level * (28 + 22 * rush + rng.gauss(0, 5))))
    return [
        place,
        when,
        pm10,
        max(2, round(pm10 * rng.uniform(0.45, 0.65))),
        round(max(0.002, 0.012 + 0.045 * sun + rng.gauss(0, 0.004)), 3),
        round(max(0.003, level * (0.012 + 0.022 * rush) + rng.gauss(0, 0.003)), 3),
        round(max(0.1, level * (0.3 + 0.35 * rush) + rng.gauss(0, 0.05)), 2),
        round(max(0.001, level * 0.0032 + rng.gauss(0, 0.0006)), 4),
    ]


def live_air(rng, places, days=1):
    """The published table of the live feed: a day of readings every 10 minutes."""
    rows = []
    start = datetime(2024, 6, 1)
    for step in range(days * 24 * 6):
        when = start + timedelta(minutes=10 * step)
        for place in places:
            reading = air_reading(rng, place, when)
            reading[1] = when.strftime("%Y-%m-%d %H:%M")
            rows.append(reading)
    return LIVE_COLUMNS, rows


LIVE_AIR = (
    LIVE_SLUG,
    "siheung-env",
    "시흥시 실시간 대기질 센서",
    "Siheung real-time air quality sensors",
    "environment",
    "realtime",
    ["미세먼지", "대기질", "실시간", "센서"],
    "정왕동·대야동·신천동·목감동·배곧동의 대기질 센서가 1분마다 보내는 PM10, PM2.5, 오존, 이산화질소, 일산화탄소, "
    "아황산가스 농도입니다. 구독하면 새 측정값을 몇 초 안에 API, 스트림(SSE) 또는 웹훅으로 받습니다. 날마다 그날의 "
    "측정값이 새 버전(스냅숏)으로 게시됩니다.",
    live_air,
    "csv",
    "utf-8",
    "kogl-1",
    "public",
)


SIHEUNG = [
    (
        "siheung-air-quality",
        "siheung-env",
        "시흥시 미세먼지 시간별 측정 자료",
        "Siheung hourly particulate matter",
        "environment",
        "daily",
        ["미세먼지", "초미세먼지", "대기질", "리빙랩"],
        "시흥 스마트시티 리빙랩 대기질 센서가 동별 측정소에서 1시간 간격으로 측정한 미세먼지(PM10), 초미세먼지(PM2.5), 오존, 이산화질소 농도입니다.",
        air_quality,
        "csv",
        "cp949",
        "kogl-1",
        "public",
    ),
    (
        "siheung-odour",
        "siheung-env",
        "시흥 리빙랩 악취 센서 측정",
        "Siheung living lab odour sensors",
        "environment",
        "daily",
        ["악취", "복합악취", "리빙랩", "시화산단"],
        "시화국가산업단지 인근 주거지역의 복합악취·황화수소·암모니아 센서 측정값입니다.",
        sensor_series([("복합악취(OU)", 12, 6, 1), ("황화수소(ppb)", 3, 1.5, 2), ("암모니아(ppm)", 0.4, 0.2, 3)]),
        "csv",
        "utf-8",
        "kogl-1",
        "public",
    ),
    (
        "siheung-weather",
        "siheung-env",
        "시흥시 기상 관측 자료",
        "Siheung weather observations",
        "environment",
        "daily",
        ["기온", "습도", "풍속", "기상"],
        "시흥시 내 자동기상관측 지점의 기온, 습도, 풍속 관측값입니다.",
        sensor_series([("기온(℃)", 24, 4, 1), ("습도(%)", 65, 12, 0), ("풍속(m/s)", 2.4, 1.1, 1)]),
        "csv",
        "cp949",
        "kogl-1",
        "public",
    ),
    (
        "siheung-noise",
        "siheung-env",
        "시흥시 생활소음 측정",
        "Siheung ambient noise",
        "environment",
        "monthly",
        ["소음", "생활환경"],
        "주거·상업 지역 생활소음 자동측정망의 등가소음도(Leq)입니다.",
        sensor_series([("등가소음도(dB)", 58, 6, 1)]),
        "csv",
        "utf-8",
        "kogl-1",
        "public",
    ),
    (
        "siheung-stream-water",
        "siheung-env",
        "시흥시 하천 수질 측정",
        "Siheung stream water quality",
        "environment",
        "monthly",
        ["수질", "하천", "BOD"],
        "관내 주요 하천 지점의 수온, 용존산소, BOD, 총인 측정값입니다.",
        sensor_series(
            [
                ("수온(℃)", 19, 3, 1),
                ("용존산소(mg/L)", 8, 1.5, 1),
                ("BOD(mg/L)", 3, 1.2, 1),
                ("총인(mg/L)", 0.12, 0.05, 3),
            ]
        ),
        "csv",
        "cp949",
        "kogl-3",
        "public",
    ),
    (
        "siheung-building-energy",
        "siheung-energy",
        "시흥시 공공건물 월별 전력 사용량",
        "Siheung public buildings' monthly electricity",
        "industry",
        "monthly",
        ["에너지", "전력", "공공건물"],
        "시청과 행정복지센터 등 공공건물의 월별 전력 사용량(kWh)입니다.",
        monthly_use("kWh", suffixes=("행정복지센터", "주민센터 별관"), mean=18000, sd=6000),
        "xlsx",
        None,
        "kogl-1",
        "public",
    ),
    (
        "siheung-water-use",
        "siheung-energy",
        "시흥시 공공시설 월별 상수도 사용량",
        "Siheung public facilities' monthly water use",
        "land",
        "monthly",
        ["상수도", "물 사용량"],
        "공공시설의 월별 상수도 사용량(㎥)입니다.",
        monthly_use("㎥", suffixes=("행정복지센터", "체육센터"), mean=900, sd=300),
        "xlsx",
        None,
        "kogl-1",
        "public",
    ),
    (
        "siheung-solar",
        "siheung-energy",
        "시흥시 공공 태양광 발전량",
        "Siheung public solar generation",
        "industry",
        "daily",
        ["태양광", "신재생에너지", "발전량"],
        "공공건물 옥상 태양광 설비의 시간별 발전량입니다.",
        sensor_series([("발전량(kWh)", 14, 9, 1)]),
        "csv",
        "utf-8",
        "kogl-1",
        "public",
    ),
    (
        "siheung-ev-chargers",
        "siheung-energy",
        "시흥시 전기차 충전소 위치",
        "Siheung EV charging stations",
        "transport",
        "quarterly",
        ["전기차", "충전소"],
        "관내 공공 전기차 충전소의 위치와 충전기 종류입니다.",
        points(["전기차 충전소"], [("충전기종류", _choice(["급속", "완속"])), ("충전기수", lambda r: r.randint(1, 6))]),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "siheung-welfare-facilities",
        "siheung-welfare",
        "시흥시 사회복지시설 현황",
        "Siheung social welfare facilities",
        "welfare",
        "half_yearly",
        ["복지시설", "사회복지"],
        "노인·장애인·아동 복지시설의 이름, 종류, 정원, 위치입니다.",
        points(
            ["노인복지관", "장애인복지관", "지역아동센터"],
            [("시설종류", _choice(["노인", "장애인", "아동"])), ("정원", lambda r: r.randint(10, 120))],
        ),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "siheung-senior-centres",
        "siheung-welfare",
        "시흥시 경로당 위치",
        "Siheung senior centres",
        "welfare",
        "yearly",
        ["경로당", "노인"],
        "관내 경로당 위치와 회원 수입니다.",
        points(["경로당"], [("회원수", lambda r: r.randint(15, 90))]),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "siheung-cooling-shelters",
        "siheung-welfare",
        "시흥시 무더위쉼터",
        "Siheung heatwave shelters",
        "safety",
        "yearly",
        ["무더위쉼터", "폭염"],
        "폭염 시 운영하는 무더위쉼터의 위치와 수용 인원입니다.",
        points(["무더위쉼터"], [("수용인원", lambda r: r.randint(10, 80)), ("야간운영", _choice(["Y", "N"]))]),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "siheung-daycare",
        "siheung-welfare",
        "시흥시 어린이집 현황",
        "Siheung daycare centres",
        "welfare",
        "quarterly",
        ["어린이집", "보육"],
        "어린이집별 월말 현원입니다.",
        monthly_use(
            "명", entity="어린이집명", value="현원", suffixes=("국공립어린이집", "가정어린이집"), mean=45, sd=15
        ),
        "xlsx",
        None,
        "kogl-1",
        "public",
    ),
    (
        "siheung-smart-poles",
        "siheung-env",
        "시흥시 스마트폴 환경 센서(가공)",
        "Siheung smart pole sensors (processed)",
        "science",
        "daily",
        ["스마트폴", "IoT", "가공데이터"],
        "스마트폴 센서 원자료를 보정·가공한 온습도와 조도 자료입니다(민간 협력 가공).",
        sensor_series([("온도(℃)", 23, 4, 1), ("습도(%)", 60, 10, 0), ("조도(lx)", 300, 200, 0)]),
        "csv",
        "utf-8",
        "cc-by-nc-4.0",
        "private",
    ),
    (
        "siheung-odour-complaints",
        "siheung-env",
        "시흥시 악취 민원 접수 현황",
        "Siheung odour complaints",
        "environment",
        "monthly",
        ["악취", "민원"],
        "동별 악취 민원 접수 건수입니다.",
        monthly_use("건", entity="행정동", value="민원", suffixes=("",), mean=12, sd=6),
        "xlsx",
        None,
        "kogl-1",
        "public",
    ),
    (
        "siheung-pm-forecast",
        "siheung-env",
        "시흥시 동별 미세먼지 예보 자료(가공)",
        "Siheung particulate forecast by district (processed)",
        "environment",
        "daily",
        ["미세먼지", "예보", "가공데이터"],
        "리빙랩 대기질 센서와 기상 관측 자료로 산출한 동별 다음 날 미세먼지·초미세먼지 예보 농도입니다(민간 협력 가공).",
        sensor_series([("예보 미세먼지(㎍/㎥)", 38, 14, 0), ("예보 초미세먼지(㎍/㎥)", 21, 8, 0)]),
        "csv",
        "utf-8",
        "cc-by-4.0",
        "private",
    ),
]
DAEGU = [
    (
        "daegu-parking-occupancy",
        "daegu-traffic",
        "대구시 공영주차장 실시간 점유율",
        "Daegu public car park occupancy",
        "transport",
        "realtime",
        ["주차", "공영주차장", "점유율"],
        "공영주차장별 주차면수와 주차대수(1시간 집계)입니다.",
        parking,
        "csv",
        "utf-8",
        "kogl-1",
        "public",
    ),
    (
        "daegu-bus-arrivals",
        "daegu-traffic",
        "대구시 버스 도착 정보",
        "Daegu bus arrivals",
        "transport",
        "realtime",
        ["버스", "도착정보", "대중교통"],
        "정류장별 노선의 도착 예정 시간과 남은 정류장 수입니다.",
        bus_arrivals,
        "csv",
        "cp949",
        "kogl-1",
        "public",
    ),
    (
        "daegu-link-traffic",
        "daegu-traffic",
        "대구시 도로 링크별 교통량",
        "Daegu traffic per road link",
        "transport",
        "daily",
        ["교통량", "도로", "속도"],
        "주요 간선도로 링크별 시간대 교통량과 평균 속도입니다.",
        traffic,
        "csv",
        "utf-8",
        "kogl-1",
        "public",
    ),
    (
        "daegu-bus-stops",
        "daegu-traffic",
        "대구시 버스정류장 위치",
        "Daegu bus stops",
        "transport",
        "quarterly",
        ["버스정류장", "대중교통"],
        "버스정류장 위치와 경유 노선 수입니다.",
        points(["버스정류장"], [("경유노선수", lambda r: r.randint(1, 14))]),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "daegu-car-parks",
        "daegu-traffic",
        "대구시 주차장 위치",
        "Daegu car parks",
        "transport",
        "quarterly",
        ["주차장", "위치"],
        "공영·민영 주차장 위치와 요금 구분입니다.",
        points(
            ["공영주차장", "노외주차장"],
            [("요금구분", _choice(["유료", "무료"])), ("주차면수", lambda r: r.randint(20, 400))],
        ),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "daegu-bike-share",
        "daegu-traffic",
        "대구시 공영자전거 대여 현황",
        "Daegu bike share rentals",
        "transport",
        "daily",
        ["공영자전거", "대여"],
        "대여소별 시간대 대여·반납 건수입니다.",
        sensor_series([("대여건수", 6, 4, 0), ("반납건수", 6, 4, 0)]),
        "csv",
        "cp949",
        "kogl-1",
        "public",
    ),
    (
        "daegu-road-speed",
        "daegu-traffic",
        "대구시 도로 소통 속도",
        "Daegu road speeds",
        "transport",
        "realtime",
        ["소통정보", "속도"],
        "도로 구간별 평균 통행 속도입니다.",
        sensor_series([("평균속도(km/h)", 36, 9, 1)]),
        "csv",
        "utf-8",
        "kogl-1",
        "public",
    ),
    (
        "daegu-traffic-lights",
        "daegu-traffic",
        "대구시 교통신호등 위치",
        "Daegu traffic lights",
        "transport",
        "yearly",
        ["신호등", "교차로"],
        "교차로 신호등 위치와 신호 방식입니다.",
        points(["교차로 신호등"], [("신호방식", _choice(["정주기", "감응식"]))]),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "daegu-cctv",
        "daegu-safety",
        "대구시 방범 CCTV 설치 현황",
        "Daegu crime-prevention CCTV",
        "safety",
        "quarterly",
        ["CCTV", "방범", "안전"],
        "방범용 CCTV의 위치, 대수, 회전형 여부, 비상벨 설치 여부입니다.",
        points(
            ["방범 CCTV"],
            [
                ("카메라대수", lambda r: r.randint(1, 4)),
                ("회전형", _choice(["Y", "N"])),
                ("비상벨", _choice(["Y", "N"])),
            ],
        ),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "daegu-flood-sensors",
        "daegu-safety",
        "대구시 침수 감지 센서 수위",
        "Daegu flood sensor levels",
        "safety",
        "realtime",
        ["침수", "수위", "재난"],
        "저지대 도로와 지하차도 침수 감지 센서의 수위(cm)입니다.",
        sensor_series([("수위(cm)", 2, 3, 1)]),
        "csv",
        "utf-8",
        "kogl-1",
        "public",
    ),
    (
        "daegu-accident-hotspots",
        "daegu-safety",
        "대구시 교통사고 다발지역",
        "Daegu traffic accident hotspots",
        "safety",
        "yearly",
        ["교통사고", "다발지역"],
        "최근 3년 교통사고 다발지역의 위치와 사고 건수입니다.",
        points(["사고다발지"], [("사고건수", lambda r: r.randint(4, 30)), ("사망자수", lambda r: r.randint(0, 2))]),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "daegu-shelters",
        "daegu-safety",
        "대구시 재난 대피소",
        "Daegu disaster shelters",
        "safety",
        "yearly",
        ["대피소", "재난", "민방위"],
        "지진·민방위 대피소 위치와 수용 인원입니다.",
        points(
            ["대피소"],
            [("수용인원", lambda r: r.randint(100, 3000)), ("유형", _choice(["지진옥외", "민방위", "실내구호"]))],
        ),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "daegu-parking-enforcement",
        "daegu-safety",
        "대구시 불법주정차 단속 CCTV",
        "Daegu parking enforcement CCTV",
        "safety",
        "quarterly",
        ["불법주정차", "CCTV", "단속"],
        "불법 주정차 단속용 CCTV 위치별 월 단속 건수입니다.",
        monthly_use("건", entity="단속지점", value="단속", suffixes=("사거리", "전통시장 앞"), mean=140, sd=50),
        "csv",
        "cp949",
        "kogl-1",
        "public",
    ),
    (
        "daegu-smart-streetlights",
        "daegu-safety",
        "대구시 스마트 가로등 센서",
        "Daegu smart streetlight sensors",
        "safety",
        "daily",
        ["가로등", "스마트시티", "IoT"],
        "스마트 가로등의 조도와 유동 인구 감지 건수입니다.",
        sensor_series([("조도(lx)", 40, 15, 0), ("감지건수", 30, 15, 0)]),
        "csv",
        "utf-8",
        "kogl-1",
        "public",
    ),
    (
        "daegu-school-zones",
        "daegu-safety",
        "대구시 어린이보호구역",
        "Daegu school zones",
        "safety",
        "yearly",
        ["어린이보호구역", "스쿨존"],
        "어린이보호구역의 위치와 CCTV 설치 여부입니다.",
        points(["어린이보호구역"], [("CCTV설치", _choice(["Y", "N"])), ("제한속도", _choice([30, 20]))]),
        "geojson",
        None,
        "kogl-1",
        "public",
    ),
    (
        "daegu-school-air",
        "daegu-safety",
        "대구시 학교 교실 초미세먼지 측정",
        "Daegu classroom fine dust",
        "environment",
        "daily",
        ["초미세먼지", "실내공기질", "학교"],
        "초·중학교 교실 공기질 센서의 초미세먼지(PM2.5)와 이산화탄소 농도(1시간 평균)입니다.",
        sensor_series([("초미세먼지(㎍/㎥)", 17, 7, 0), ("이산화탄소(ppm)", 820, 180, 0)]),
        "csv",
        "cp949",
        "kogl-1",
        "public",
    ),
]
DATASETS = SIHEUNG + [LIVE_AIR] + DAEGU
SECOND_VERSION = "siheung-air-quality"  # gets a published v2 (a station added)
WAITING_FOR_REVIEW = "daegu-flood-sensors"  # its v1 waits in the review queue


def build_file(spec, rng, *, extra_place=None):
    slug, _org, title_ko, _en, _theme, _cad, _tags, _desc, generator, kind, encoding, *_ = spec
    places = list(SIHEUNG_DONG if slug.startswith("siheung") else DAEGU_GU)[:5]
    if extra_place:
        places.append(extra_place)
    if kind == "geojson":
        bbox = SIHEUNG_BBOX if slug.startswith("siheung") else DAEGU_BBOX
        return f"{slug}.geojson", _geojson(generator(rng, places, bbox))
    header, rows = generator(rng, places)
    if kind == "xlsx":
        return f"{slug}.xlsx", _xlsx(header, rows)
    return f"{slug}.csv", _csv(header, rows, encoding=encoding)


def metadata(spec, organization):
    slug, _org, title_ko, title_en, theme, cadence, tags, description, _g, _k, _e, licence, data_kind = spec
    daegu = slug.startswith("daegu")
    return dict(
        title_ko=title_ko,
        title_en=title_en,
        description_ko=description,
        theme=Theme.objects.get(code=theme),
        tags=tags,
        department=organization.name_ko,
        contact_name=organization.contact_name or "데이터 담당",
        contact_phone=organization.contact_phone or "031-310-2114",
        contact_email=organization.contact_email,
        update_cadence=cadence,
        data_kind=data_kind,
        licence=Licence.objects.get(code=licence),
        spatial_area="대구광역시" if daegu else "경기도 시흥시",
        spatial_bbox=list(DAEGU_BBOX if daegu else SIHEUNG_BBOX),
        temporal_start=datetime(2024, 6, 1).date(),
        legal_basis="스마트도시 조성 및 산업진흥 등에 관한 법률 제12조",
        collection_method="IoT 센서 자동 수집" if cadence == "realtime" or cadence == "daily" else "행정자료",
        data_limits="센서 점검 기간에는 값이 비어 있을 수 있습니다.",
    )


def seeded(slug: str, version: int = 1) -> random.Random:
    return random.Random(f"{slug}-{version}")


def offers(spec) -> list[dict]:
    """Free for most public data; a cost-recovery fee for the large sensor series; market prices for private data."""
    data_kind, cadence = spec[12], spec[5]
    if data_kind == "private":
        return [
            {"kind": "one_off", "price_krw": 300_000, "contract_type": "provision"},
            {"kind": "subscription", "price_krw": 900_000, "subscription_days": 90, "contract_type": "provision"},
        ]
    result = [{"kind": "free"}]
    if cadence in ("realtime", "daily") and spec[9] != "geojson":
        result.append(
            {
                "kind": "subscription",
                "price_krw": 50_000,
                "subscription_days": 365,
                "cost_basis": "실시간 자료 가공·전송 시스템 유지비 (연간 구독 1건)",
            }
        )
        # Data API plans (issue 16): free to try, then at cost (공공데이터: cost recovery with its basis).
        result += [
            {"kind": "api_dev", "daily_quota": 1000},
            {
                "kind": "api_metered",
                "price_per_1000_krw": 100,
                "cost_basis": "데이터 API 서버·전송 비용 (호출 1,000건당)",
            },
            {
                "kind": "api_subscription",
                "price_krw": 30_000,
                "subscription_days": 30,
                "rate_limit_per_minute": 600,
                "cost_basis": "데이터 API 서버·전송 비용 (월 정액, 분당 600건)",
            },
        ]
    return result


def live_feed_setup() -> bool:
    """Make the demo's air-quality table live (idempotent: once made, nothing changes). True when made now."""
    dataset = Dataset.objects.filter(slug=LIVE_SLUG).first()
    if dataset is None or dataset.live_tables.exists():
        return False
    version = dataset.versions.filter(state="published").first()
    datafile = version.files.filter(table_schema__isnull=False).first() if version else None
    if datafile is None:
        return False
    live_services.live_table_enable(actor=dataset.created_by, dataset=dataset, datafile=datafile, cadence="daily")
    return True


def live_feed_append(now: datetime | None = None) -> int:
    """One reading per demo sensor for the current minute (beat, every minute). Idempotent per minute: the batch's
    key is the minute, so a repeated or late beat stores nothing twice. Returns the rows appended."""
    table = LiveTable.objects.filter(dataset__slug=LIVE_SLUG, state="active").select_related("enabled_by").first()
    if table is None:
        return 0
    when = (now or timezone.now()).astimezone(KST).replace(second=0, microsecond=0)
    rng = random.Random(f"{LIVE_SLUG}-{when.isoformat()}")
    names = table.column_names
    rows = []
    for place in LIVE_SENSORS:
        reading = air_reading(rng, place, when)
        reading[1] = when.isoformat()
        rows.append(dict(zip(names, reading)))
    _batch, created = live_services.live_rows_append(
        actor=table.enabled_by, table=table, rows=rows, idempotency_key=f"demo-{when.strftime('%Y%m%dT%H%M')}"
    )
    return len(rows) if created else 0
