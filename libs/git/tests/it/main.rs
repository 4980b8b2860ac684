//! sortie-git against real git and real temporary repositories.

mod branches;
mod checkout;
mod integrate;
mod mirror;
mod rebase;
mod runner;
mod support;
mod workspace;
mod seed;
