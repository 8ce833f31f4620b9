//! The environment the command receives: the pod's own, minus what pod-init
//! consumes (the private key), plus what a login would set.
//!
//! The command is executed directly, not through `su -` or a login shell,
//! so the pod's variables (CUDA, WANDB, HF_TOKEN, …) reach it unchanged;
//! pod-init only adds the variables a login would have set (programs break
//! without `USER`) and the ones pointing into scratch.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use common::env::{CONSUMED_BY_POD_INIT, EnvVars};

use crate::config::PodConfig;

/// Variables pod-init itself sets for the command, for the bootstrap case.
pub fn bootstrap_overrides(cfg: &PodConfig, shell: &str) -> Vec<(&'static str, OsString)> {
    let home = cfg.home();
    vec![
        (EnvVars::HOME, home.into_os_string()),
        ("USER", cfg.user.clone().into()),
        ("LOGNAME", cfg.user.clone().into()),
        ("SHELL", shell.into()),
        ("ZDOTDIR", cfg.zdotdir().into_os_string()),
        ("ZSH", cfg.oh_my_zsh().into_os_string()),
        ("HISTFILE", cfg.histfile().into_os_string()),
        (EnvVars::SCRATCH_HOME, cfg.scratch_home.clone().into_os_string()),
        (EnvVars::GIT_CONFIG_GLOBAL, cfg.git_config_global.clone().into_os_string()),
        (EnvVars::UV_CACHE_DIR, cfg.uv_cache_dir.clone().into_os_string()),
        (EnvVars::UV_PYTHON_INSTALL_DIR, cfg.uv_python_install_dir.clone().into_os_string()),
    ]
}

/// `base` without the consumed variables, with `overrides` replacing or
/// adding entries, in the original order (new ones at the end).
pub fn command_env(base: &[(OsString, OsString)], overrides: &[(&str, OsString)]) -> Vec<CString> {
    let mut out: Vec<(OsString, OsString)> =
        base.iter().filter(|(k, _)| !CONSUMED_BY_POD_INIT.iter().any(|c| OsStr::new(c) == k)).cloned().collect();
    for (key, value) in overrides {
        match out.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => out.push(((*key).into(), value.clone())),
        }
    }
    out.into_iter()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            // The kernel hands out no NUL inside an entry; drop one if built.
            CString::new(kv).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_is_removed_and_overrides_applied() {
        let base: Vec<(OsString, OsString)> =
            [("PATH", "/bin"), ("SSH_PRIVATE_KEY_B64", "c2VjcmV0"), ("HOME", "/root"), ("HF_TOKEN", "hf")]
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect();
        let env = command_env(&base, &[("HOME", "/home/ada".into()), ("USER", "ada".into())]);
        let env: Vec<&str> = env.iter().map(|c| c.to_str().unwrap()).collect();
        assert_eq!(env, ["PATH=/bin", "HOME=/home/ada", "HF_TOKEN=hf", "USER=ada"]);
    }

    /// submit refuses `-e` for these names, so each one must be in the
    /// list it reads or among the variables it sends itself.
    #[test]
    fn every_override_is_a_name_submit_knows_pod_init_sets() {
        let cfg = crate::config::for_tests(&[]);
        let sent_by_submit = [
            EnvVars::HOME,
            EnvVars::SCRATCH_HOME,
            EnvVars::GIT_CONFIG_GLOBAL,
            EnvVars::UV_CACHE_DIR,
            EnvVars::UV_PYTHON_INSTALL_DIR,
        ];
        for (name, _) in bootstrap_overrides(&cfg, "/bin/zsh") {
            assert!(common::env::SET_BY_POD_INIT.contains(&name) || sent_by_submit.contains(&name), "{name}");
        }
    }
}
