//! The listener under each fake: plain axum serving on `127.0.0.1:0`, every request handed to
//! the one pipeline, over connections that carry a kill switch (see [`crate::conn`]).

use std::io;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::backend::Backend;
use crate::conn::{ConnHandle, KillableListener};
use crate::pipeline::serve;
use crate::state::Shared;

/// Binds `127.0.0.1:0`.
pub(crate) async fn bind() -> io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await
}

/// Serves one fake on `listener` until aborted. Every request goes to [`serve`], whatever its
/// path, so routing, faults and the call log are handled in one place.
pub(crate) fn spawn<B: Backend>(
    listener: TcpListener,
    shared: Arc<Shared>,
) -> tokio::task::AbortHandle {
    let app = Router::new().fallback(serve::<B>).with_state(shared);
    let make = app.into_make_service_with_connect_info::<ConnHandle>();
    let task = tokio::spawn(async move {
        // axum::serve only returns on a listener error, which ours never reports.
        let _ = axum::serve(KillableListener::new(listener), make).await;
    });
    task.abort_handle()
}
