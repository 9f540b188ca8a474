"""marketplace/logging.py: an event below its logger's level is dropped before structlog's processors run."""

import logging

import structlog

from marketplace.logging import configure_logging


def test_an_event_below_its_loggers_level_runs_no_processor():
    saved = structlog.get_config()
    logger_level = logging.getLogger("django_structlog").level
    try:
        configure_logging("json", "WARNING")
        processed = []
        processors = structlog.get_config()["processors"]
        # A processor just before the hand-over to logging: what reaches it went through every processor before it.
        spy = [
            *processors[:-1],
            lambda logger, method, event: processed.append(event["event"]) or event,
            processors[-1],
        ]
        structlog.configure(processors=spy)
        logging.getLogger("django_structlog").setLevel(logging.WARNING)  # LOG_LEVEL=WARNING, as the benches run
        log = structlog.get_logger("django_structlog.middlewares.request")
        log.info("request_started")
        log.warning("slow_request")
        assert processed == ["slow_request"]
        # A logger set to INFO on its own (tests/test_request_id.py's fixture does) still has its INFO lines.
        logging.getLogger("django_structlog").setLevel(logging.INFO)
        log.info("request_finished")
        assert processed == ["slow_request", "request_finished"]
    finally:
        structlog.configure(**saved)
        logging.getLogger("django_structlog").setLevel(logger_level)
