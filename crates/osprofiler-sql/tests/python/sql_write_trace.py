"""Writes one trace with Python OSprofiler's own SQL driver and prints its base id.

Usage: sql_write_trace.py CONNECTION_STRING

The trace: wsgi > (db, driver), the driver point failing with ValueError. PostgreSQL and
MySQL go through osprofiler.notifier.create as a service's would; Python's get_driver has no
`sqlite` scheme, so for SQLite its SQL driver is made directly.
"""
import sys
import time

from osprofiler import notifier
from osprofiler import profiler
from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver


def main():
    cs = sys.argv[1]
    if cs.startswith("sqlite"):
        notify = SQLAlchemyDriver(cs, project="pyproj", service="pysvc",
                                  host="pyhost").notify
    else:
        notify = notifier.create(cs, project="pyproj", service="pysvc",
                                 host="pyhost")
        if notify is notifier._noop_notifier:
            sys.exit("Python OSprofiler could not make a driver for " + cs)
    notifier.set(notify)
    profiler.init("SECRET_KEY")
    base_id = profiler.get().get_base_id()
    profiler.start("wsgi", info={"request": {"path": "/py", "query": "a=1",
                                             "method": "GET",
                                             "scheme": "http"}})
    profiler.start("db", info={"db": {"statement": "SELECT 1",
                                      "params": {"x": [1, "é"]}}})
    time.sleep(0.002)
    profiler.stop()
    profiler.start("driver")
    time.sleep(0.001)
    profiler.stop(info={"etype": "ValueError", "message": "boom"})
    profiler.stop()
    print(base_id)


if __name__ == "__main__":
    main()
