//! The web UI: hand-written HTML, CSS and JavaScript, compiled into the binary (no build step,
//! nothing fetched at run time).

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

const INDEX: &str = include_str!("../ui/index.html");
/// Every file of the UI: its path under `/ui/`, its type, its text. A test checks that this list
/// and the files in `ui/` agree.
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../ui/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/app.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/dom.js"),
    ),
    (
        "format.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/format.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/api.js"),
    ),
    (
        "router.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/router.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/live.js"),
    ),
    (
        "signin.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/signin.js"),
    ),
    (
        "icons.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/icons.js"),
    ),
    (
        "pages/dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/dashboard.js"),
    ),
    (
        "pages/devices.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/devices.js"),
    ),
    (
        "pages/device.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/device.js"),
    ),
    (
        "pages/map.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/map.js"),
    ),
    (
        "pages/scans.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/scans.js"),
    ),
    (
        "pages/daemons.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/daemons.js"),
    ),
    (
        "pages/changes.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/changes.js"),
    ),
    (
        "pages/users.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/users.js"),
    ),
    (
        "pages/scan-cells.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages/scan-cells.js"),
    ),
    (
        "map/scene.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/map/scene.js"),
    ),
    (
        "map/draw.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/map/draw.js"),
    ),
];

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX,
    )
        .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `/`, `/ui/{*file}`, and the page for any other path outside `/api` (the UI routes itself).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{*file}", get(asset))
        .fallback(get(index))
}

#[cfg(test)]
mod tests {
    use super::FILES;

    /// A module added to `ui/` and forgotten here would be a 404 in the browser.
    #[test]
    fn every_ui_file_is_served() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut on_disk = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if matches!(p.extension().and_then(|x| x.to_str()), Some("js" | "css")) {
                    on_disk.push(
                        p.strip_prefix(&root)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        on_disk.sort();
        let mut served: Vec<String> = FILES.iter().map(|(n, _, _)| n.to_string()).collect();
        served.sort();
        assert_eq!(served, on_disk);
    }
}
