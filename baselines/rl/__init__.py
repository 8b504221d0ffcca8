"""Reinforcement-learning baselines: Gymnasium views, SB3 trainers, MTMA, checkpoints."""
