mod lint;
mod mission_file;
mod plan_schema;
mod scheduler;
