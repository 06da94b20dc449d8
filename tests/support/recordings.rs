//! The recorded provider and router responses (`tests/fixtures/*-recordings.json`),
//! read once per test binary. Shared by the recording tests (included with `#[path]`).

use serde_json::Value;

/// One recorded response.
#[allow(dead_code)] // each includer reads the fields it needs
pub struct Recording {
    /// `provider-recordings.json` or `router-recordings.json`.
    pub file: &'static str,
    pub id: String,
    pub url: String,
    pub status: u64,
    pub content_type: String,
    pub body: String,
}

#[allow(dead_code)]
impl Recording {
    pub fn is_event_stream(&self) -> bool {
        self.content_type.starts_with("text/event-stream")
    }
}

/// Every recording of both files, in file order.
pub fn recordings() -> &'static [Recording] {
    static ALL: std::sync::OnceLock<Vec<Recording>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut out = Vec::new();
        for file in ["provider-recordings.json", "router-recordings.json"] {
            let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
            let text =
                std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
            let entries: Vec<Value> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"));
            for e in entries {
                let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                out.push(Recording {
                    file,
                    id: s("id"),
                    url: s("url"),
                    status: e.get("status").and_then(Value::as_u64).unwrap_or(0),
                    content_type: s("content_type"),
                    body: s("body"),
                });
            }
        }
        out
    })
}
