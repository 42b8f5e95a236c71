"""Write a synthetic run of N windows (records to the letter of docs/RUN_RECORDS.md) for the
speed benchmark: `python web/scripts/synthetic-run.py DIR RUN_ID N` (from the repo root, with
PYTHONPATH=.). Uses the service tests' record writer, so the records match what the service
reads."""

import sys
from pathlib import Path

from tests.service.svc_records import write_run

if __name__ == "__main__":
    runs_dir, run_id, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    write_run(runs_dir, run_id, windows=n, updates_per_window=2, eval_every=100)
    print(f"{runs_dir / run_id}: {n} windows")
