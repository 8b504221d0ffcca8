"""The official evaluation seeds: a fixed, published list, disjoint from training seeds.

Training code in this project uses seeds below 1,000,000 by default; evaluation uses these 30.
Changing them changes every published number, so they change only with a new benchmark version.
"""

EVALUATION_SEEDS: tuple[int, ...] = tuple(range(1_000_000, 1_000_030))
TRAINING_SEED_LIMIT = 1_000_000  # training seeds are drawn from [0, TRAINING_SEED_LIMIT)

__all__ = ["EVALUATION_SEEDS", "TRAINING_SEED_LIMIT", "VALIDATION_SEEDS"]

# Held-out seeds for evaluation during training (model selection, learning curves): outside the
# training range and distinct from the official seeds, so neither training nor the published
# numbers see them.
VALIDATION_SEEDS: tuple[int, ...] = tuple(range(2_000_000, 2_000_010))
