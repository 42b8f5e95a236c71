"""Development tools, not product code: the stub W&B server and its data, the service load test.

Neither the wheel (pyproject's package list) nor the service image (infra/Dockerfile) carries
this folder; run the tools from the repository root (`python -m tools.wandb_stub ...`).
"""
