//! The staff page (being written): served on `[dashboard] listen`.

use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::daemon::core::Input;
use crate::daemon::live::Live;

/// What the page needs from the daemon.
#[derive(Clone)]
pub struct DashboardState {
    pub cfg: Arc<Config>,
    pub live: Live,
    /// To the core: acknowledgements, as `Input::Local` with a reply.
    pub inputs: SyncSender<Input>,
}

/// Serves the page on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: DashboardState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let _ = (listener, state);
    shutdown.cancelled().await;
    Ok(())
}
