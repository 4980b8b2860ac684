//! Sortie's mission ledger: the Ledger trait and its Postgres implementation
