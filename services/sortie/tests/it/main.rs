//! Integration tests of the `sortie` command's library: the planning conversation driven
//! from a scripted input, against the scripted model server.

mod plan;
