//! Why a delete failed, when the job was listed and then went away before
//! runai ran (another terminal's `submit clean`, run:ai's own clean-up):
//! runai's "not found" alone would read like a typo or a broken CLI.

use super::Place;
use crate::app::say;
use crate::cluster::jobs;

/// The error for the jobs `failed` that runai could not delete: one more
/// listing tells those that are gone since they were listed, said each on
/// its own line, from those still there.
pub fn not_deleted(place: &Place, failed: &[&str]) -> anyhow::Error {
    let Ok(now) = place.pods() else {
        return anyhow::anyhow!("could not delete {}", failed.join(", "));
    };
    let listed = jobs::from_pod_list(&now);
    let (gone, there): (Vec<&str>, Vec<&str>) =
        failed.iter().partition(|name| !listed.iter().any(|j| j.name == **name));
    for name in &gone {
        say(&format!(
            "the job {name} is gone: it was listed, but no pod of it is left in namespace {} \
             (deleted elsewhere since); there was nothing for runai to delete",
            place.namespace
        ));
    }
    match (gone.as_slice(), there.as_slice()) {
        ([], _) => anyhow::anyhow!("could not delete {}", failed.join(", ")),
        (gone, []) => anyhow::anyhow!("could not delete {}: gone before runai ran", gone.join(", ")),
        (gone, _) => {
            anyhow::anyhow!("could not delete {} ({} gone before runai ran)", failed.join(", "), gone.join(", "))
        }
    }
}
