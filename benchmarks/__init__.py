"""Benchmarks outside the product packages (not in the wheel): peer trainers, phase timings."""
