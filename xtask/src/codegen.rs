//! `cargo xtask codegen`: rewrite the generated regions of docker/Dockerfile
//! from `crates/common` (see `dockerfile` for why they are generated).

use std::fs;

use anyhow::{Context, Result};

use crate::dockerfile;

pub fn run(check_only: bool) -> Result<()> {
    let path = dockerfile::path();
    let text = dockerfile::read()?;
    if check_only {
        dockerfile::check(&text)?;
        eprintln!("codegen: {} is up to date", path.display());
        return Ok(());
    }
    let fresh = dockerfile::regenerate(&text)?;
    if fresh == text {
        eprintln!("codegen: {} is up to date", path.display());
    } else {
        fs::write(&path, fresh).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("codegen: rewrote the generated regions of {}", path.display());
    }
    Ok(())
}
