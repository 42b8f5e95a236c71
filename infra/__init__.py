"""Deployment files for Caravan and the post-deploy smoke checks (`python -m infra.smoke`)."""
