//! JSON Lines on standard input, until it closes or shutdown starts.

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::LineSplitter;
use super::READ_BLOCK;
use crate::pipeline::{Ingest, Origin};

pub async fn run(mut ingest: Ingest, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut stdin = tokio::io::stdin();
    let mut block = vec![0u8; READ_BLOCK];
    let mut splitter = LineSplitter::new(ingest.max_line_bytes());
    loop {
        let read = tokio::select! {
            read = stdin.read(&mut block) => read?,
            () = shutdown.cancelled() => {
                // What the splitter holds is the cut end of a read, not a line.
                tracing::info!("stdin: stopped reading at shutdown");
                return Ok(());
            }
        };
        if read == 0 {
            break;
        }
        ingest.read_bytes(read);
        splitter.feed(&block[..read], |position, line| {
            ingest.line(origin(position), line)
        });
        if ingest.flush(None).await.is_err() {
            return Ok(());
        }
    }
    splitter.finish(|position, line| ingest.line(origin(position), line));
    // Its stream ends here: the last flush carries its digest.
    ingest.seal_chain(0);
    let _ = ingest.flush(None).await;
    Ok(())
}

fn origin(position: super::LinePosition) -> Origin<'static> {
    Origin {
        name: "stdin",
        stream: crate::pipeline::stdin_stream(),
        line: position.number,
        offset: position.offset,
    }
}
