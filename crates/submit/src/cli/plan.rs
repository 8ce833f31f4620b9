//! From the parsed flags to the typed request the job layer takes: the one
//! place where clap's structs meet the layers below.

use crate::cli::Cli;
use crate::job::request::Request;
use crate::job::spec::{NodePool, NodePools};
use crate::sweep;

impl Cli {
    /// The job the flags ask for.
    pub fn request(&self) -> Request {
        Request {
            name: self.name.clone(),
            uid: self.uid.clone(),
            gid: self.gid.clone(),
            command: self.command.clone(),
            exp_folder: self.exp_folder.clone(),
            venv: self.venv.clone(),
            time: self.time.clone(),
            gpus: self.gpus.clone(),
            cpus: self.cpus.clone(),
            memory: self.memory.clone(),
            image: self.image.clone(),
            port: self.port,
            train: self.train,
            workers: self.workers,
            secret_name: self.secret_name.clone(),
            pvc: self.pvc.clone(),
            backoff_limit: self.backofflimit,
            node_pools: NodePools::new(self.node_type.iter().filter_map(|t| t.pool()).map(NodePool::new)),
            host_ipc: self.host_ipc,
            large_shm: self.large_shm,
            stop_signal: self.stop_signal.clone(),
            grace: self.grace.clone(),
            env: self.env.clone(),
            runai_cli: self.runai_cli.clone(),
            sweep: None,
        }
    }

    /// The sweep the flags ask for (none when neither `--sweep` nor
    /// `--sweep-file` is given).
    pub fn sweep_asked(&self) -> sweep::Asked {
        sweep::Asked {
            axes: self.sweep.clone(),
            file: self.sweep_file.clone(),
            max_jobs: usize::try_from(self.max_jobs).unwrap_or(usize::MAX),
            parallel: usize::try_from(self.parallel).unwrap_or(1),
        }
    }
}

/// The request of a bare `submit`: what `submit doctor` checks the `.env`
/// against.
pub fn bare_request() -> Request {
    Cli::parse_args(["submit"]).unwrap_or_else(|e| e.exit()).request()
}
