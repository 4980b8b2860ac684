//! Sortie's layered settings: defaults, file, environment, flags
