"""回访与整改 (follow-up after closure): callback plans and seeded sampling, callback tasks with
attempts, ratings from every channel, and the dissatisfaction loop (差评整改)."""
