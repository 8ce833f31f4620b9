//! The documents kubectl reads before it does anything (see
//! shared/reference/kubectl-apply-wire.md): `/version` with minor 32, so
//! the dispatcher picks kubectl 1.32; aggregated discovery at `/api` and
//! `/apis` with their exact content type; `/openapi/v3` with a Secret PATCH
//! that declares the `fieldValidation` parameter, so kubectl validates on
//! the server side and never asks for the protobuf `/openapi/v2`.

use serde_json::{Value, json};

/// Aggregated discovery; served as `application/json`, kubectl would parse
/// it as the legacy format and find no Secret.
pub const DISCOVERY_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub fn version() -> Value {
    json!({"major": "1", "minor": "32", "gitVersion": "v1.32.4", "platform": "linux/amd64"})
}

/// `/api`: the core group's resources that `submit` uses.
pub fn core_group() -> Value {
    json!({
        "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
        "items": [{"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
            core_resource("secrets", "secret", "Secret", &[], &["get", "list", "create", "patch", "update", "delete"]),
            core_resource("pods", "pod", "Pod", &["po"], &["get", "list", "watch"]),
            core_resource("events", "event", "Event", &["ev"], &["get", "list", "watch"]),
            core_resource("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", &["pvc"], &["get", "list"]),
        ]}]}]
    })
}

/// `/apis`: no other group.
pub fn other_groups() -> Value {
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "items": []})
}

/// `/openapi/v3`: where the core group's document is.
pub fn openapi_index() -> Value {
    json!({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=fake"}}})
}

/// `/openapi/v3/api/v1`: only the Secret PATCH, with `fieldValidation`.
pub fn openapi_core() -> Value {
    json!({
        "openapi": "3.0.0", "info": {"title": "fake", "version": "v1.32.4"},
        "paths": {"/api/v1/namespaces/{namespace}/secrets/{name}": {"patch": {
            "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "Secret"},
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "responses": {}
        }}},
        "components": {"schemas": {}}
    })
}

/// One resource of the core group in aggregated discovery.
fn core_resource(resource: &str, singular: &str, kind: &str, short: &[&str], verbs: &[&str]) -> Value {
    json!({
        "resource": resource, "scope": "Namespaced", "singularResource": singular, "shortNames": short,
        "verbs": verbs, "responseKind": {"group": "", "version": "v1", "kind": kind}
    })
}
