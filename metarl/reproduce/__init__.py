"""Reproductions: one command per published finding (``metarl reproduce NAME --out DIR``).

A file ``experiments/reproductions/NAME.py`` exports ``REPRODUCTION`` (``spec``: the
settings, the published numbers and each claim's rule, written before running) and
``POD`` (the same at pod scale). ``runner`` trains each setting through the trainer
(resumable), measures it with the spec's measure module (``bandit_table``: the
checkpoint's seeds beside the reference agents on the same episodes, intervals over
training seeds from ``seed_stats``), checks the claims and writes the report
(``report``: report.json, report.md, figure); ``command`` is the CLI.
"""

from metarl.reproduce.spec import (
    CHECKPOINT,
    NOT_REPRODUCED,
    PARTLY,
    REPRODUCED,
    STATUSES,
    Claim,
    ClaimResult,
    Published,
    Reproduction,
    Setting,
    overall_status,
)

__all__ = [
    "CHECKPOINT",
    "NOT_REPRODUCED",
    "PARTLY",
    "REPRODUCED",
    "STATUSES",
    "Claim",
    "ClaimResult",
    "Published",
    "Reproduction",
    "Setting",
    "overall_status",
]
