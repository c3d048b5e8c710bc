//! Pure TFTP packet codec (RFC 1350, 2347 OACK). No I/O; `decode` never panics.

use bytes::{BufMut, Bytes};

pub const OP_RRQ: u16 = 1;
pub const OP_WRQ: u16 = 2;
pub const OP_DATA: u16 = 3;
pub const OP_ACK: u16 = 4;
pub const OP_ERROR: u16 = 5;
pub const OP_OACK: u16 = 6;

/// TFTP error codes (RFC 1350 + RFC 2347 code 8).
pub mod code {
    pub const NOT_DEFINED: u16 = 0;
    pub const FILE_NOT_FOUND: u16 = 1;
    pub const ACCESS_VIOLATION: u16 = 2;
    pub const DISK_FULL: u16 = 3;
    pub const ILLEGAL_OPERATION: u16 = 4;
    pub const UNKNOWN_TID: u16 = 5;
    pub const FILE_EXISTS: u16 = 6;
    pub const NO_SUCH_USER: u16 = 7;
    pub const OPTION_REFUSED: u16 = 8;
}

/// Transfer mode named in a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Octet,
    Netascii,
    Mail,
}

impl Mode {
    /// Case-insensitive, as RFC 1350 says.
    pub fn parse(s: &str) -> Option<Mode> {
        if s.eq_ignore_ascii_case("octet") {
            Some(Mode::Octet)
        } else if s.eq_ignore_ascii_case("netascii") {
            Some(Mode::Netascii)
        } else if s.eq_ignore_ascii_case("mail") {
            Some(Mode::Mail)
        } else {
            None
        }
    }
}

/// A read or write request. The file name stays raw bytes: the filename rules judge them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub filename: Vec<u8>,
    pub mode: String,
    /// Options in the order sent; names as sent (compare case-insensitively).
    pub options: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    Rrq(Request),
    Wrq(Request),
    Data { block: u16, data: Bytes },
    Ack(u16),
    Error { code: u16, message: String },
    Oack(Vec<(String, String)>),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("packet shorter than 4 bytes")]
    TooShort,
    #[error("unknown opcode {0}")]
    BadOpcode(u16),
    #[error("string field not NUL-terminated")]
    Unterminated,
    #[error("option {0:?} has no value")]
    OptionWithoutValue(String),
}

impl Packet {
    pub fn decode(buf: &[u8]) -> Result<Packet, DecodeError> {
        if buf.len() < 2 {
            return Err(DecodeError::TooShort);
        }
        let op = u16::from_be_bytes([buf[0], buf[1]]);
        let body = &buf[2..];
        match op {
            OP_RRQ | OP_WRQ => {
                let req = decode_request(body)?;
                Ok(if op == OP_RRQ {
                    Packet::Rrq(req)
                } else {
                    Packet::Wrq(req)
                })
            }
            OP_DATA | OP_ACK | OP_ERROR if body.len() < 2 => Err(DecodeError::TooShort),
            OP_DATA => Ok(Packet::Data {
                block: u16::from_be_bytes([body[0], body[1]]),
                data: Bytes::copy_from_slice(&body[2..]),
            }),
            // Extra bytes after an ACK are ignored: some clients pad.
            OP_ACK => Ok(Packet::Ack(u16::from_be_bytes([body[0], body[1]]))),
            OP_ERROR => {
                let msg = &body[2..];
                // A missing terminator is tolerated: the message is informational.
                let end = msg.iter().position(|&b| b == 0).unwrap_or(msg.len());
                Ok(Packet::Error {
                    code: u16::from_be_bytes([body[0], body[1]]),
                    message: String::from_utf8_lossy(&msg[..end]).into_owned(),
                })
            }
            OP_OACK => Ok(Packet::Oack(decode_options(body)?)),
            other => Err(DecodeError::BadOpcode(other)),
        }
    }

    /// Append the wire form to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Packet::Rrq(r) | Packet::Wrq(r) => {
                let op = if matches!(self, Packet::Rrq(_)) {
                    OP_RRQ
                } else {
                    OP_WRQ
                };
                out.put_u16(op);
                out.extend_from_slice(&r.filename);
                out.push(0);
                out.extend_from_slice(r.mode.as_bytes());
                out.push(0);
                encode_options(&r.options, out);
            }
            Packet::Data { block, data } => encode_data(*block, data, out),
            Packet::Ack(block) => {
                out.put_u16(OP_ACK);
                out.put_u16(*block);
            }
            Packet::Error { code, message } => encode_error(*code, message, out),
            Packet::Oack(opts) => {
                out.put_u16(OP_OACK);
                encode_options(opts, out);
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(32);
        self.encode_into(&mut v);
        v
    }
}

/// DATA header + payload, the hot path: callers reuse `out`.
pub fn encode_data(block: u16, data: &[u8], out: &mut Vec<u8>) {
    out.reserve(4 + data.len());
    out.put_u16(OP_DATA);
    out.put_u16(block);
    out.extend_from_slice(data);
}

pub fn encode_error(code: u16, message: &str, out: &mut Vec<u8>) {
    out.put_u16(OP_ERROR);
    out.put_u16(code);
    // A NUL inside the message would truncate it on the wire; drop them.
    out.extend(message.bytes().filter(|&b| b != 0));
    out.push(0);
}

pub fn error_packet(code: u16, message: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + message.len());
    encode_error(code, message, &mut v);
    v
}

fn encode_options(opts: &[(String, String)], out: &mut Vec<u8>) {
    for (k, v) in opts {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
}

/// Split `buf` at its first NUL; `None` if there is none.
fn take_cstr(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = buf.iter().position(|&b| b == 0)?;
    Some((&buf[..i], &buf[i + 1..]))
}

fn decode_request(body: &[u8]) -> Result<Request, DecodeError> {
    let (filename, rest) = take_cstr(body).ok_or(DecodeError::Unterminated)?;
    let (mode, rest) = take_cstr(rest).ok_or(DecodeError::Unterminated)?;
    Ok(Request {
        filename: filename.to_vec(),
        mode: String::from_utf8_lossy(mode).into_owned(),
        options: decode_options(rest)?,
    })
}

fn decode_options(mut rest: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    let mut options = Vec::new();
    while !rest.is_empty() {
        let (name, r) = take_cstr(rest).ok_or(DecodeError::Unterminated)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let (value, r) = take_cstr(r).ok_or(DecodeError::OptionWithoutValue(name.clone()))?;
        options.push((name, String::from_utf8_lossy(value).into_owned()));
        rest = r;
        // Bound the work a hostile packet can cause.
        if options.len() > 64 {
            break;
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rrq_with_options() {
        let raw = b"\x00\x01SEP001122334455.cnf.xml\x00octet\x00blksize\x001428\x00tsize\x000\x00";
        let p = Packet::decode(raw).unwrap();
        assert_eq!(
            p,
            Packet::Rrq(Request {
                filename: b"SEP001122334455.cnf.xml".to_vec(),
                mode: "octet".into(),
                options: vec![
                    ("blksize".into(), "1428".into()),
                    ("tsize".into(), "0".into())
                ],
            })
        );
        assert_eq!(p.encode(), raw.to_vec());
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Packet::decode(b""), Err(DecodeError::TooShort));
        assert_eq!(Packet::decode(b"\x00\x09"), Err(DecodeError::BadOpcode(9)));
        assert_eq!(
            Packet::decode(b"\x00\x01file"),
            Err(DecodeError::Unterminated)
        );
        assert!(matches!(
            Packet::decode(b"\x00\x01f\x00octet\x00blksize\x00"),
            Err(DecodeError::OptionWithoutValue(_))
        ));
        assert_eq!(Packet::decode(b"\x00\x04\x00"), Err(DecodeError::TooShort));
    }

    #[test]
    fn error_without_terminator_is_tolerated() {
        assert_eq!(
            Packet::decode(b"\x00\x05\x00\x01nope").unwrap(),
            Packet::Error {
                code: 1,
                message: "nope".into()
            }
        );
    }
}
