"""Times Python OSprofiler's own SQL driver storing N notifications (start/stop pairs), for
the side-by-side figures in BENCHMARKS.md.

Usage: sql_bench.py CONNECTION_STRING [PAIRS]

It writes 2 * PAIRS rows into the `data` table of CONNECTION_STRING: give it a scratch
database (for example `createdb osp_bench`), never one other tests or services read.
"""
import sys
import time

from osprofiler import profiler
from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver


def main():
    cs = sys.argv[1]
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    driver = SQLAlchemyDriver(cs, project="p", service="s", host="h")
    from osprofiler import notifier
    notifier.set(driver.notify)
    profiler.init("SECRET_KEY")
    started = time.perf_counter()
    for _ in range(pairs):
        profiler.start("db")
        profiler.stop()
    took = time.perf_counter() - started
    print("%d notifications in %.3f s: %.0f/s" % (2 * pairs, took, 2 * pairs / took))


if __name__ == "__main__":
    main()
