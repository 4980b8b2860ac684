//! Plan versions read from the ledger and prepared for scheduling, kept while their
//! mission runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sortie_ledger::Ledger;
use sortie_model::scheduler::SchedulePlan;
use sortie_model::{MissionId, Plan};

use crate::error::Result;

/// One plan version, with what the scheduler needs computed once.
#[derive(Debug)]
pub(crate) struct PreparedPlan {
    pub(crate) version: i32,
    pub(crate) plan: Plan,
    pub(crate) schedule: SchedulePlan,
}

#[derive(Debug, Default)]
pub(crate) struct PlanCache {
    plans: Mutex<HashMap<MissionId, Arc<PreparedPlan>>>,
}

impl PlanCache {
    /// The mission's plan at `version`, from the cache or the ledger.
    pub(crate) async fn get(
        &self,
        ledger: &dyn Ledger,
        mission: MissionId,
        version: i32,
    ) -> Result<Arc<PreparedPlan>> {
        if let Some(prepared) = self.cached(mission, version) {
            return Ok(prepared);
        }
        let stored = ledger.plan(mission, Some(version)).await?;
        let prepared = Arc::new(PreparedPlan {
            version,
            schedule: SchedulePlan::new(&stored.plan),
            plan: stored.plan,
        });
        self.plans
            .lock()
            .expect("plan cache lock")
            .insert(mission, Arc::clone(&prepared));
        Ok(prepared)
    }

    fn cached(&self, mission: MissionId, version: i32) -> Option<Arc<PreparedPlan>> {
        let plans = self.plans.lock().expect("plan cache lock");
        plans
            .get(&mission)
            .filter(|prepared| prepared.version == version)
            .cloned()
    }

    /// Forget a mission that ended.
    pub(crate) fn forget(&self, mission: MissionId) {
        self.plans.lock().expect("plan cache lock").remove(&mission);
    }
}
