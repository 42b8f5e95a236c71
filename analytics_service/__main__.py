"""`python -m analytics_service [--host 127.0.0.1] [--port 8000] [--runs-dir runs]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    """Start uvicorn with the app built from the environment plus these flags."""
    ap = argparse.ArgumentParser(prog="python -m analytics_service", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help="run records to serve (default: ANALYTICS_RUNS_DIR or runs)",
    )
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--log-level", default="info")
    args = ap.parse_args(argv)
    if args.runs_dir is not None:
        os.environ["ANALYTICS_RUNS_DIR"] = str(args.runs_dir)
    if args.cache_dir is not None:
        os.environ["ANALYTICS_CACHE_DIR"] = str(args.cache_dir)

    import uvicorn

    from analytics_service.app import create_app
    from analytics_service.settings import Settings

    settings = Settings()
    app = create_app(settings)
    source = (
        "W&B " + f"{settings.wandb_entity}/{settings.wandb_project}"
        if (settings.wandb_configured)
        else f"local records in {settings.runs_dir}"
    )
    print(f"analytics service on http://{args.host}:{args.port} serving {source}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
