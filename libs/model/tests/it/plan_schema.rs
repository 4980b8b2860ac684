//! `docs/plan.schema.json` is the published JSON Schema of a plan; it must match the
//! types. Run with `SORTIE_UPDATE_SCHEMA=1` to rewrite it after changing them.

use std::path::PathBuf;

use sortie_model::Plan;

#[test]
fn the_published_plan_schema_matches_the_types() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/plan.schema.json");
    let generated = serde_json::to_string_pretty(&Plan::json_schema())
        .expect("a schema is always serialisable")
        + "\n";
    if std::env::var_os("SORTIE_UPDATE_SCHEMA").is_some_and(|value| value == "1") {
        std::fs::write(&path, &generated).expect("docs/plan.schema.json is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/plan.schema.json is out of date with the plan types; regenerate it with \
         `SORTIE_UPDATE_SCHEMA=1 cargo test -p sortie-model --test it plan_schema`"
    );
}
