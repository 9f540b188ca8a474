"""The synthetic air-quality CSV the ingest and delivery benchmarks measure with."""

import shutil
from pathlib import Path


def generate_csv(path: Path, rows: int, encoding: str) -> None:
    """A sensor CSV of `rows` rows (12 columns, Korean names, about 100 bytes a row) in `encoding`, written
    by DuckDB as UTF-8 and transcoded in a stream when another encoding is asked for."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    target = path if encoding == "utf-8" else path.with_suffix(".utf8.csv")
    con = duckdb.connect()
    con.execute(f"""
        COPY (
          SELECT ['정왕동','대야동','신천동','목감동','배곧동','거모동'][1 + (i % 6)::INT] AS 측정소명,
                 TIMESTAMP '2020-01-01 00:00' + INTERVAL (i % 50000) HOUR AS 측정일시,
                 (i * 7) % 180 AS 미세먼지,
                 (i * 3) % 90 AS 초미세먼지,
                 round(((i * 13) % 1000) / 10000.0, 4) AS 오존,
                 round(((i * 11) % 800) / 10000.0, 4) AS 이산화질소,
                 round(20 + ((i * 17) % 300) / 10.0, 1) AS 기온,
                 (i * 19) % 100 AS 습도,
                 round(37.30 + ((i * 23) % 1500) / 10000.0, 6) AS 위도,
                 round(126.70 + ((i * 29) % 2000) / 10000.0, 6) AS 경도,
                 CASE WHEN i % 2 = 0 THEN NULL ELSE '점검' END AS 비고,
                 '경기도 시흥시 시청로 ' || (i % 300)::VARCHAR AS 주소
          FROM range({rows}) t(i)
        ) TO '{target}' (HEADER, DELIMITER ',')
    """)
    con.close()
    if target != path:
        with open(target, encoding="utf-8") as src, open(path, "w", encoding=encoding, newline="") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        target.unlink()
