-- Approval is an act of its own: who approved which plan version of a mission, and when.
-- A draft mission has none of the three.

ALTER TABLE missions
    ADD COLUMN approved_by           text,
    ADD COLUMN approved_plan_version integer,
    ADD COLUMN approved_at           timestamptz;

-- Missions stored before drafts existed were approved by their submitter at submission.
UPDATE missions AS mission
SET approved_by = plan.approved_by,
    approved_plan_version = plan.version,
    approved_at = mission.created_at
FROM plan_versions AS plan
WHERE plan.mission_id = mission.id
  AND plan.version = 1
  AND plan.approved_by IS NOT NULL;
