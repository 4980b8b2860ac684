//! sortie-git against real git and real temporary repositories.

mod branches;
mod checkout;
mod integrate;
mod mirror;
mod rebase;
mod runner;
mod seed;
mod support;
mod workspace;
