"""Caravan PPO trainer (`python -m ppo.train`) and its run records; see docs/TRAINING.md."""
