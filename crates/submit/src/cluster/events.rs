//! The Events the scheduler and kubelet record about a pod, read for what
//! its status cannot say: between "scheduled" and "running" the status is
//! one `ContainerCreating`, while the Events tell pulling the image from
//! creating the container; and once a pull has failed, the status says only
//! `Back-off pulling image`, while the `Failed` Event keeps the registry's
//! words.
//!
//! Events refine; the pod's status stays what decides whether a pod runs or
//! cannot start.

use serde_json::Value;

/// Where a scheduled pod is on its way to running, as its Events tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `Scheduled`: placed on a node, nothing pulled yet.
    Scheduled,
    /// `Pulling`: the image is being pulled.
    Pulling { image: String },
    /// `Pulled`: the image is there; the container is being created.
    Pulled,
    /// `Created`, `Started`: the container is starting.
    Starting,
}

impl Step {
    /// The step in a researcher's words, for a pod on `node`.
    pub fn words(&self, node: &str) -> String {
        match self {
            Step::Scheduled => format!("scheduled on {node}"),
            Step::Pulling { image } => format!("pulling the image {image}"),
            Step::Pulled => "creating the container".to_owned(),
            Step::Starting => "starting the container".to_owned(),
        }
    }
}

/// What one Event says about a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    Step(Step),
    /// A pull failed; the registry's words, without kubelet's prefix.
    PullFailed(String),
}

/// One Event about a pod that the wait can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEvent {
    pub pod: String,
    /// The pod's uid: Events of an earlier pod of the same name outlive it.
    pub uid: String,
    pub news: News,
}

/// Reads an Event object (as `kubectl get events -o json` prints it);
/// `None` for Events about something else or that the wait does not use.
pub fn read(event: &Value) -> Option<PodEvent> {
    let about = &event["involvedObject"];
    if about["kind"] != "Pod" {
        return None;
    }
    let message = event["message"].as_str().unwrap_or_default();
    let news = match event["reason"].as_str()? {
        "Scheduled" => News::Step(Step::Scheduled),
        "Pulling" => News::Step(Step::Pulling { image: quoted(message)?.to_owned() }),
        "Pulled" => News::Step(Step::Pulled),
        "Created" | "Started" => News::Step(Step::Starting),
        // kubelet: `Failed to pull image "IMAGE": DETAIL`; its other Failed
        // Events (`Error: ErrImagePull`) repeat the status.
        "Failed" => {
            let rest = message.strip_prefix("Failed to pull image ")?;
            let image = quoted(rest)?;
            let detail = rest[image.len() + 2..].trim_start_matches(':').trim();
            News::PullFailed(detail.to_owned())
        }
        _ => return None,
    };
    Some(PodEvent {
        pod: about["name"].as_str()?.to_owned(),
        uid: about["uid"].as_str().unwrap_or_default().to_owned(),
        news,
    })
}

/// The first `"..."` of `text`, without the quotes.
fn quoted(text: &str) -> Option<&str> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(reason: &str, message: &str) -> Value {
        json!({
            "kind": "Event", "reason": reason, "message": message, "type": "Normal",
            "involvedObject": {"kind": "Pod", "name": "j-0-0", "uid": "u1"}
        })
    }

    fn news(reason: &str, message: &str) -> Option<News> {
        read(&event(reason, message)).map(|e| e.news)
    }

    #[test]
    fn kubelets_steps_are_told_apart() {
        let scheduled = read(&event("Scheduled", "Successfully assigned ns/j-0-0 to n1")).unwrap();
        assert_eq!((scheduled.pod.as_str(), scheduled.uid.as_str()), ("j-0-0", "u1"));
        assert_eq!(scheduled.news, News::Step(Step::Scheduled));
        let pulling = news("Pulling", "Pulling image \"reg/img:1\"").unwrap();
        assert_eq!(pulling, News::Step(Step::Pulling { image: "reg/img:1".into() }));
        assert_eq!(
            news("Pulled", "Container image \"reg/img:1\" already present on machine"),
            Some(News::Step(Step::Pulled))
        );
        assert_eq!(news("Started", "Started container main"), Some(News::Step(Step::Starting)));
        let words: Vec<String> = [Step::Scheduled, Step::Pulling { image: "reg/img:1".into() }, Step::Pulled]
            .iter()
            .map(|s| s.words("n1"))
            .collect();
        assert_eq!(words, ["scheduled on n1", "pulling the image reg/img:1", "creating the container"]);
    }

    #[test]
    fn a_failed_pull_keeps_the_registrys_words() {
        let failed = news("Failed", "Failed to pull image \"reg/nope:1\": rpc error: code = NotFound desc = not found");
        assert_eq!(failed, Some(News::PullFailed("rpc error: code = NotFound desc = not found".into())));
        assert_eq!(news("Failed", "Error: ErrImagePull"), None);
        assert_eq!(news("BackOff", "Back-off pulling image \"reg/nope:1\""), None);
    }

    #[test]
    fn other_events_and_odd_objects_are_left_out() {
        let mut node = event("Scheduled", "");
        node["involvedObject"]["kind"] = "Node".into();
        assert_eq!(read(&node), None);
        assert_eq!(news("Pulling", "no quotes"), None);
        for v in [json!(null), json!({}), json!({"involvedObject": {"kind": "Pod"}, "reason": 3}), json!([])] {
            assert_eq!(read(&v), None);
        }
    }
}
