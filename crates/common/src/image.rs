//! Paths baked into the container image that `pod-init` relies on.
//!
//! The Dockerfile is checked against these constants by a test, so the image
//! and the binary cannot drift apart.

/// Where the image installs `pod-init`, owned by root, mode [`POD_INIT_MODE`].
pub const POD_INIT_PATH: &str = "/usr/local/sbin/pod-init";

/// setuid root: the pod runs as the researcher's uid, and the bootstrap still
/// needs root for /etc (see the setuid start in `pod-init`).
pub const POD_INIT_MODE: u32 = 0o4755;

/// The directory in the image holding the shell files copied to scratch on
/// first start.
pub const STAGE_DIR: &str = "/docker";

/// oh-my-zsh, staged by the image, copied to `<SCRATCH_HOME>/.shell/.oh-my-zsh`
/// (where the bash entrypoint put it).
pub const STAGED_OH_MY_ZSH: &str = "/docker/oh-my-zsh";

/// The `.zshrc` staged by the image (it sets `umask 007`), copied to
/// `<SCRATCH_HOME>/.shell/.zshrc`.
pub const STAGED_ZSHRC: &str = "/docker/.zshrc";

/// The drop-in that grants the researcher passwordless sudo. sudo skips
/// names containing a dot or ending in `~`, so this has neither.
pub const SUDOERS_DROP_IN: &str = "/etc/sudoers.d/nb-user";

/// The run-once marker of the setuid start: `pod-init` creates it
/// (`O_EXCL`, owned by root) when, started setuid root as PID 1, it claims
/// the bootstrap. Once it exists, a setuid start grants nothing. /run is
/// root's (0755) and every new container starts without it, because a
/// container's writable layer starts empty; the image must not ship it.
pub const POD_INIT_MARKER: &str = "/run/pod-init.started";
