//! The direct (reconciliation) protocol's codec: one length-prefixed frame of raw bytes per
//! request and per response, refused beyond a size cap before any of it is buffered.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::StreamProtocol;
use std::io;

/// The protocol name of the direct (reconciliation) protocol. Version 2 folds its tables from
/// one kept up to date and lists ids for large differences (no sketch parts); its messages
/// do not decode as version 1's (`/p2p-sync/sync/1.0.0`), so nodes of the two versions
/// gossip with each other but do not reconcile.
pub const RECONCILE_PROTOCOL: StreamProtocol = StreamProtocol::new("/p2p-sync/reconcile/2.0.0");

/// Frames are a 4-byte big-endian length followed by that many bytes.
#[derive(Debug, Clone, Copy)]
pub struct DirectCodec {
    max_frame_bytes: usize,
}

impl DirectCodec {
    /// A codec that refuses frames longer than `max_frame_bytes`.
    pub fn new(max_frame_bytes: usize) -> Self {
        DirectCodec { max_frame_bytes }
    }
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the {max} byte limit"),
        ));
    }
    let mut frame = vec![0; len];
    io.read_exact(&mut frame).await?;
    Ok(frame)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    frame: &[u8],
    max: usize,
) -> io::Result<()> {
    let len = u32::try_from(frame.len())
        .ok()
        .filter(|&len| len as usize <= max)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "frame of {} bytes is over the {max} byte limit",
                    frame.len()
                ),
            )
        })?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(frame).await
}

impl request_response::Codec for DirectCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_frame_bytes).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_frame_bytes).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request, self.max_frame_bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response, self.max_frame_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;
    use request_response::Codec;

    fn encode(codec: &mut DirectCodec, frame: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Cursor::new(Vec::new());
        block_on(codec.write_request(&RECONCILE_PROTOCOL, &mut out, frame))?;
        Ok(out.into_inner())
    }

    #[test]
    fn frames_round_trip_including_the_empty_ack() {
        let mut codec = DirectCodec::new(16);
        for frame in [vec![], b"hello".to_vec(), vec![7; 16]] {
            let bytes = encode(&mut codec, frame.clone()).unwrap();
            let read = block_on(codec.read_response(&RECONCILE_PROTOCOL, &mut Cursor::new(bytes)));
            assert_eq!(read.unwrap(), frame);
        }
    }

    #[test]
    fn oversized_frames_are_refused_on_both_sides() {
        let mut codec = DirectCodec::new(16);
        let error = encode(&mut codec, vec![0; 17]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        let mut bytes = 17u32.to_be_bytes().to_vec();
        bytes.extend([0; 17]);
        let error = block_on(codec.read_request(&RECONCILE_PROTOCOL, &mut Cursor::new(bytes)));
        assert_eq!(error.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_truncated_frame_is_an_error() {
        let mut codec = DirectCodec::new(16);
        let mut bytes = 5u32.to_be_bytes().to_vec();
        bytes.extend(b"hel");
        assert!(
            block_on(codec.read_request(&RECONCILE_PROTOCOL, &mut Cursor::new(bytes))).is_err()
        );
    }
}
