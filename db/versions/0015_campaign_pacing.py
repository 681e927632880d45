"""Pacing state and settings of a campaign.

- amd_false_positive: the measured share of its machine verdicts that were people. Regulators count
  those hang-ups on people as abandoned calls (Ofcom an estimate of them, the FTC each one), so pacing
  counts this share of the machine verdicts into its abandonment budget.
- pacing_gain: the calibration of the pacing model, integrated over every outcome while the campaign
  runs, stored by the pacing node every 30 s so that a restarted or another node carries on from it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""ALTER TABLE campaigns ADD COLUMN amd_false_positive numeric(5,4) NOT NULL DEFAULT 0
                  CHECK (amd_false_positive BETWEEN 0 AND 0.5),
                  ADD COLUMN pacing_gain double precision""")


def downgrade() -> None:
    op.execute("ALTER TABLE campaigns DROP COLUMN amd_false_positive, DROP COLUMN pacing_gain")
