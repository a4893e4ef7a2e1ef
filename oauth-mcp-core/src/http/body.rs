//! Gathering a request body's chunks within a size limit, for adapters.

use bytes::{Bytes, BytesMut};

/// A request body gathered chunk by chunk, at most `limit` bytes. A body
/// that arrives in one chunk (as a small JSON-RPC message or form does) is
/// kept as it came, without a copy.
///
/// ```
/// use bytes::Bytes;
/// use oauth_mcp_core::http::BodyBuffer;
///
/// let mut body = BodyBuffer::new(5);
/// assert!(body.push(Bytes::from_static(b"abc")).is_ok());
/// assert!(body.push(Bytes::from_static(b"de")).is_ok());
/// assert!(body.push(Bytes::from_static(b"f")).is_err(), "6 bytes > 5");
/// ```
#[derive(Debug)]
pub struct BodyBuffer {
    limit: usize,
    one: Bytes,
    many: Option<BytesMut>,
}

/// The body went past its limit (answer with [`super::body_too_large`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body is larger than its limit")]
pub struct BodyTooLarge;

impl BodyBuffer {
    /// An empty body that may grow to `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            one: Bytes::new(),
            many: None,
        }
    }

    /// Adds the next chunk, unless the body would pass its limit.
    pub fn push(&mut self, chunk: Bytes) -> Result<(), BodyTooLarge> {
        let so_far = self.many.as_ref().map_or(self.one.len(), BytesMut::len);
        if chunk.len() > self.limit - so_far {
            return Err(BodyTooLarge);
        }
        match &mut self.many {
            Some(m) => m.extend_from_slice(&chunk),
            None if self.one.is_empty() => self.one = chunk,
            None => {
                let mut m = BytesMut::with_capacity(so_far + chunk.len());
                m.extend_from_slice(&self.one);
                m.extend_from_slice(&chunk);
                self.many = Some(m);
            }
        }
        Ok(())
    }

    /// The whole body.
    pub fn finish(self) -> Bytes {
        self.many.map_or(self.one, BytesMut::freeze)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(limit: usize, chunks: &[&'static str]) -> Result<Bytes, BodyTooLarge> {
        let mut b = BodyBuffer::new(limit);
        for c in chunks {
            b.push(Bytes::from_static(c.as_bytes()))?;
        }
        Ok(b.finish())
    }

    #[test]
    fn one_chunk_many_chunks_and_the_limit() {
        let one = Bytes::from_static(b"{}");
        let mut b = BodyBuffer::new(2);
        b.push(one.clone()).unwrap();
        let whole = b.finish();
        assert_eq!(whole.as_ptr(), one.as_ptr(), "one chunk is not copied");
        assert_eq!(gather(0, &[]).unwrap(), "");
        assert_eq!(gather(0, &["", ""]).unwrap(), "");
        assert_eq!(gather(5, &["", "ab", "", "cd", "e"]).unwrap(), "abcde");
        assert_eq!(gather(5, &["ab", "cd", "ef"]), Err(BodyTooLarge));
        assert_eq!(gather(2, &["abc"]), Err(BodyTooLarge));
    }
}
